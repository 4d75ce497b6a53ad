"""Deployment (a): DigitalPy services push into the Swift Subject and receive results from the
Swift Integration Manager; Swift workers run the steps (``zmanager.builtin.stamp``).

Also: the core's answers to malformed Python messages are error messages a DigitalPy service
can read, never a crash or a silent drop.
"""

import datetime
import pickle
import re
import uuid

import pytest
import zmq
from conftest import TRANSPORTS, cpython_bytes, split_frame
from digitalpy.core.main.object_factory import ObjectFactory
from digitalpy.core.main.singleton_configuration_factory import SingletonConfigurationFactory
from service import Service

# Values a DigitalPy service might send: every simple type, '~' inside the pickle, a big int.
VALUES = {
    "name": "ada",
    "seq": 7,
    "payload": b"\x00~\xff" * 10,
    "ratio": 0.25,
    "big": 2**70,
    "flags": [True, False, None],
    "pair": (1, "two"),
    "nested": {"k": [b"", "", {"deep": -1}]},
    "blob": bytearray(b"ba"),
}


@pytest.fixture
def service():
    services = []

    def make() -> Service:
        made = Service(service_id="svcA")
        services.append(made)
        return made

    yield make
    for made in services:
        made.close()


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_digitalpy_service_round_trip_through_swift_workers(make_core, service, transport):
    core = make_core(transport, workers=2)
    svc = service()
    svc.subscribe_results("Stamp")
    svc.wait_until_connected()

    request = svc.push("Stamp", VALUES)
    frame = svc.subscriber.subscriber_socket.recv_multipart()  # RCVTIMEO set below
    assert len(frame) == 1, "the answer to a single-frame request is a single frame"
    header, body = split_frame(frame[0])
    assert header == [b"Stamp", b"", b"", b"", b"done", request.get_id().encode()]

    values = pickle.loads(body)
    stamps = values.pop("stamps")
    assert values == VALUES, "every value comes back, types included"
    assert list(values) == list(VALUES), "in order"
    assert len(stamps) == 2 and all(re.fullmatch(r"w[01]:Stamp", s) for s in stamps), stamps
    # The Swift encoder writes what CPython writes, byte for byte.
    assert body == cpython_bytes({**VALUES, "stamps": stamps})

    # And DigitalPy's own parser reads it.
    parsed = svc.subscriber.serializer_container.from_zmanager_message(frame[0])
    assert parsed.get_id() == request.get_id()
    assert parsed.action_key.config == "Stamp" and parsed.get_action() == "done"
    assert parsed.get_values()["stamps"] == stamps
    assert core.alive()


@pytest.fixture(autouse=True)
def _bounded_receives(monkeypatch):
    """Every Service receive in this module is bounded (DigitalPy's subscriber has no timeout)."""
    original = Service.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        self.subscriber.subscriber_socket.setsockopt(zmq.RCVTIMEO, 10_000)

    monkeypatch.setattr(Service, "__init__", init)


def test_the_bytes_a_subject_pusher_sends_are_digitalpys_frame(make_core, raw_peer):
    """What ``SubjectPusher.push_container`` puts on the wire, captured on our own PULL, is
    ``<Flow>~~<service>~<Context>~Push~<uuid>~pickle.dumps(values)``; plain pyzmq sending those
    bytes is then the same client as far as the core can tell."""
    context = zmq.Context()
    capture = context.socket(zmq.PULL)
    port = capture.bind_to_random_port("tcp://127.0.0.1")
    try:
        conf = SingletonConfigurationFactory.get_configuration_object("ZManagerConfiguration")
        saved = conf.subject_pull_address
        conf.subject_pull_address = f"tcp://127.0.0.1:{port}"
        pusher = ObjectFactory.get_new_instance("SubjectPusher")
        conf.subject_pull_address = saved
        pusher.setup()
        request = ObjectFactory.get_new_instance("Request")
        request.action_key = SingletonConfigurationFactory.get_action_flow("Stamp").actions[0]
        request.set_values({"name": "ada"})
        pusher.push_container(request, "svcA")
        assert capture.poll(10_000), "the pusher sent a frame"
        frames = capture.recv_multipart()
        pusher.pusher_socket.setsockopt(zmq.LINGER, 0)
        pusher.teardown()
    finally:
        capture.close()
        context.term()
    uid = request.get_id()
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", uid)
    assert frames == [b"Stamp~~svcA~Stamp~Push~" + uid.encode() + b"~" + cpython_bytes({"name": "ada"})]

    core = make_core("tcp", workers=1)
    peer = raw_peer(core.endpoints)
    peer.subscribe(b"Stamp~~~~done~")
    peer.push.send(frames[0])
    answer = peer.receive(lambda f: uid.encode() in f)
    header, body = split_frame(answer)
    assert header == [b"Stamp", b"", b"", b"", b"done", uid.encode()]
    assert pickle.loads(body)["name"] == "ada"


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_errors_to_python_are_pickled_dicts_byte_for_byte(make_core, raw_peer, service, transport):
    core = make_core(transport, workers=1)
    peer = raw_peer(core.endpoints)
    peer.subscribe(b"zmanager_error~")
    uid = str(uuid.uuid4())
    peer.push.send(f"NoSuchFlow~~svcA~NoSuchFlow~Push~{uid}~".encode() + cpython_bytes({"x": 1}))
    error = peer.receive(lambda f: uid.encode() in f)
    expected_values = {
        "error": 'no flow named "NoSuchFlow" is loaded',
        "kind": "unknown_flow",
        "role": "Subject",
        "flow": "NoSuchFlow",
        "id": uid,
    }
    assert error == (b"zmanager_error~ERROR~Subject~NoSuchFlow~unknown_flow~" + uid.encode() + b"~"
                     + cpython_bytes(expected_values))

    # A DigitalPy service reads it with its own classes.
    svc = service()
    svc.wait_until_connected()
    request = svc.push("Stamp", {"when": datetime.datetime(2024, 5, 1, 12, 0)})  # not simple data
    parsed = svc.receive(timeout=10)
    assert parsed is not None and parsed.get_id() == request.get_id()
    assert parsed.action_key.config == "zmanager_error" and parsed.action_key.decorator == "ERROR"
    assert parsed.get_action() == "undecodable"
    assert parsed.get_value("kind") == "undecodable" and parsed.get_value("id") == request.get_id()
    assert parsed.get_value("flow") == "Stamp" and parsed.get_value("role").startswith("Worker w")
    # The refusal names the forbidden global and where it was: a pickled object is never run.
    assert "datetime" in parsed.get_value("error") and "offset" in parsed.get_value("error")


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_malformed_python_messages_get_error_messages(make_core, raw_peer, transport):
    core = make_core(transport, workers=2)
    peer = raw_peer(core.endpoints)
    peer.subscribe(b"zmanager_error~", b"Stamp~~~~done~")

    def error_for(uid: str, frame: bytes) -> dict:
        peer.push.send(frame)
        header, body = split_frame(peer.receive(lambda f: f.startswith(b"zmanager_error~") and uid.encode() in f.split(b"~", 6)[5]))
        values = pickle.loads(body)
        assert header[4].decode() == values["kind"] and header[5].decode() == values["id"] == uid
        return values

    good = cpython_bytes({"name": "ada"})
    # A bad pickle body: the worker's handler asks for values and the decoder refuses them.
    uid = str(uuid.uuid4())
    values = error_for(uid, f"Stamp~~svc~Stamp~Push~{uid}~".encode() + b"\x80\x04\x95garbage")
    assert values["kind"] == "undecodable" and values["flow"] == "Stamp"
    assert "offset" in values["error"], values
    # A truncated pickle.
    uid = str(uuid.uuid4())
    values = error_for(uid, f"Stamp~~svc~Stamp~Push~{uid}~".encode() + good[:-2])
    assert values["kind"] == "undecodable"
    # A pickle that is code: os.system via GLOBAL + REDUCE.
    uid = str(uuid.uuid4())
    values = error_for(uid, f"Stamp~~svc~Stamp~Push~{uid}~".encode() + b"cos\nsystem\n(S'touch /tmp/zmi-pwned'\ntR.")
    assert values["kind"] == "undecodable" and "GLOBAL" in values["error"]

    # Truncated headers: the Subject cannot read an id, and still answers.
    for frame in (b"Stamp~~svc~Stamp~Pu", b"Stamp~~svc~Stamp~Push~no-terminator", b""):
        peer.push.send(frame)
        header, body = split_frame(peer.receive(lambda f: f.startswith(b"zmanager_error~ERROR~Subject~~undecodable~~")))
        assert pickle.loads(body)["kind"] == "undecodable"
        assert pickle.loads(body)["role"] == "Subject"

    # Nothing crashed: a good request still gets its result.
    uid = str(uuid.uuid4())
    peer.push.send(f"Stamp~~svc~Stamp~Push~{uid}~".encode() + good)
    header, body = split_frame(peer.receive(lambda f: f.startswith(b"Stamp~~~~done~" + uid.encode())))
    assert pickle.loads(body)["name"] == "ada"
    assert core.alive()
    summary = core.stop()
    assert "drained=true" in summary and "errors=6" in summary and "results=1" in summary, summary
    assert core.process.returncode == 0
