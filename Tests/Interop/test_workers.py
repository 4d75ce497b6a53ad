"""Deployment (b): real DigitalPy ``DefaultRoutingWorker`` processes behind the Swift Subject and
Integration Manager, executing a Python component (``interop_components.Greeter``)."""

import pickle
import re
import time

import pytest
import zmq
from conftest import TRANSPORTS, cpython_bytes, split_frame
from service import Service


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_digitalpy_workers_run_python_components_behind_the_swift_core(make_core, make_python_worker, transport):
    core = make_core(transport, workers=0)  # no Swift workers: the Subject feeds Python ones only
    make_python_worker(core.endpoints)
    make_python_worker(core.endpoints)
    service = Service(service_id="svcB")
    try:
        service.subscriber.subscriber_socket.setsockopt(zmq.RCVTIMEO, 200)
        service.subscribe_results("Greet")
        service.wait_until_connected()

        # Workers connect on their own schedule (the Subject queues until one does): send in
        # batches until both processes have answered, then collect every result.
        sent = {}
        pids = set()
        deadline = time.monotonic() + 60
        while (len(pids) < 2 or len(sent) > 0) and time.monotonic() < deadline:
            if len(pids) < 2 and len(sent) < 10:
                for _ in range(4):
                    values = {"name": f"n{len(pids)}-{time.monotonic_ns()}", "payload": b"\x00~" * 8}
                    sent[service.push("Greet", values).get_id()] = values
            try:
                frames = service.subscriber.subscriber_socket.recv_multipart()
            except zmq.error.Again:
                continue
            assert len(frames) == 1
            header, body = split_frame(frames[0])
            uid = header[5].decode()
            assert uid in sent, f"a result for a request we sent: {frames[0][:120]!r}"
            assert header[:5] == [b"Greet", b"", b"", b"", b"done"]
            values = pickle.loads(body)
            expected = sent.pop(uid)
            (stamp,) = values["stamps"]
            match = re.fullmatch(r"python-(\d+):Greet", stamp)
            assert match, stamp
            pids.add(int(match.group(1)))
            assert values == {**expected, "greeting": f"hello {expected['name']}", "stamps": [stamp]}
            assert body == cpython_bytes(values), "DigitalPy's own pickle, forwarded byte for byte"
        assert len(pids) == 2, f"both DigitalPy worker processes answered: {pids}"
        assert not sent, f"every request got its result; missing {list(sent)}"
    finally:
        service.close()
    summary = core.stop()
    assert "drained=true" in summary and "errors=0" in summary, summary
