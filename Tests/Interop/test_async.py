"""Deployment (c): a flow parks at its ASYNC step in the Swift Subject and a Python party
answers; ``prev_flows`` goes out in the parked request and comes back as DigitalPy carries it."""

import pickle
import re
import uuid

import pytest
import zmq
from async_party import AsyncParty
from conftest import TRANSPORTS, cpython_bytes, split_frame
from service import Service


@pytest.fixture
def service_and_party():
    made = []

    def make():
        service = Service(service_id="svcC")
        service.subscriber.subscriber_socket.setsockopt(zmq.RCVTIMEO, 10_000)
        party = AsyncParty()
        party.subscribe("Approve")
        party.wait_until_connected()
        service.subscribe_results("Approve")
        service.wait_until_connected()
        made.append((service, party))
        return service, party

    yield make
    for service, party in made:
        service.close()
        party.close()


def prev_flow(uid: str) -> dict:
    return {"config": "Approve", "decorator": "ASYNC", "source": "", "context": "Approve", "action": "Approved", "id": uid}


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_digitalpy_party_answers_with_completed_command(make_core, service_and_party, transport):
    core = make_core(transport, workers=2)
    service, party = service_and_party()
    request = service.push("Approve", {"name": "ada", "amount": 12})
    uid = request.get_id()

    # The parked request, as the party's IntegrationManagerSubscriber parses it.
    parked = party.next_request(timeout=10)
    assert parked is not None, "the flow parked and its request was published"
    key = parked.action_key
    assert (key.config, key.decorator, key.source, key.context, key.action) == (
        "zmanager_async", "PARKED", "", "Approve", "Approved")
    assert parked.get_id() == uid
    values = parked.get_values()
    assert values["prev_flows"] == [prev_flow(uid)]
    assert values["name"] == "ada" and values["amount"] == 12
    assert re.fullmatch(r"w[01]:Stamp", values["stamps"][0])

    # DigitalPyService.handle_command's answer, through the real IntegrationManagerPusher.
    party.answer(parked, {"message": "approved", "by": "party"})

    frames = service.subscriber.subscriber_socket.recv_multipart()
    assert len(frames) == 1
    header, body = split_frame(frames[0])
    assert header == [b"Approve", b"", b"", b"", b"done", uid.encode()]
    result = pickle.loads(body)
    stamp = result.pop("stamps")
    assert result == {"message": "approved", "by": "party", "prev_flows": [prev_flow(uid)]}
    assert len(stamp) == 1 and re.fullmatch(r"w[01]:Approved", stamp[0]), stamp
    assert body == cpython_bytes({**result, "stamps": stamp})

    summary = core.stop()
    # One result for one flow: the completed_command...done message is not counted as one.
    assert "drained=true" in summary and "results=1 " in summary and "in_flight=0" in summary, summary


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_party_may_answer_with_the_async_step_header_from_prev_flows(make_core, raw_peer, transport):
    core = make_core(transport, workers=2)
    peer = raw_peer(core.endpoints)
    peer.subscribe(b"zmanager_async~PARKED~~Approve~", b"Approve~~~~done~", b"zmanager_error~")
    uid = str(uuid.uuid4())
    peer.push.send(f"Approve~~svcC~Approve~Push~{uid}~".encode() + cpython_bytes({"name": "grace"}))

    parked = peer.receive(lambda f: f.startswith(b"zmanager_async~PARKED~"))
    header, body = split_frame(parked)
    assert header == [b"zmanager_async", b"PARKED", b"", b"Approve", b"Approved", uid.encode()]
    (step,) = pickle.loads(body)["prev_flows"]
    assert step == prev_flow(uid)

    # The ASYNC step's own header, built from prev_flows[0], pushed to the Subject.
    answer = f"{step['config']}~{step['decorator']}~party~{step['context']}~{step['action']}~{step['id']}~"
    peer.push.send(answer.encode() + cpython_bytes({"message": "ok"}))
    header, body = split_frame(peer.receive(lambda f: not f.startswith(b"zmanager_async~")))
    assert header == [b"Approve", b"", b"", b"", b"done", uid.encode()], pickle.loads(body)
    assert pickle.loads(body)["message"] == "ok"

    # Answering twice: the flow is no longer parked, a NOTICE (not an ERROR: the flow ended).
    peer.push.send(answer.encode() + cpython_bytes({"message": "again"}))
    notice = peer.receive(lambda f: f.startswith(b"zmanager_error~"))
    header, body = split_frame(notice)
    assert header == [b"zmanager_error", b"NOTICE", b"Subject", b"Approve", b"async_unknown", uid.encode()]
    assert pickle.loads(body)["kind"] == "async_unknown"
    assert core.alive()


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_completed_command_for_no_parked_flow_is_a_pickled_notice(make_core, raw_peer, transport):
    core = make_core(transport, workers=1)
    peer = raw_peer(core.endpoints)
    peer.subscribe(b"zmanager_error~")
    uid = str(uuid.uuid4())
    peer.to_im.send(f"completed_command~~~~done~{uid}~".encode() + cpython_bytes({"prev_flows": None}))
    header, body = split_frame(peer.receive(lambda f: uid.encode() in f))
    assert header == [b"zmanager_error", b"NOTICE", b"Subject", b"completed_command", b"async_unknown", uid.encode()]
    assert pickle.loads(body)["id"] == uid
    summary = core.stop()
    assert "drained=true" in summary and "results=0 " in summary, summary


def test_an_unanswered_python_flow_times_out_with_a_pickled_error(make_core, raw_peer):
    core = make_core("tcp", workers=1, async_timeout="300ms")
    peer = raw_peer(core.endpoints)
    peer.subscribe(b"zmanager_error~")
    uid = str(uuid.uuid4())
    peer.push.send(f"Approve~~svcC~Approve~Push~{uid}~".encode() + cpython_bytes({"name": "late"}))
    header, body = split_frame(peer.receive(lambda f: uid.encode() in f))
    assert header[:5] == [b"zmanager_error", b"ERROR", b"Subject", b"Approve", b"async_timeout"]
    assert pickle.loads(body)["kind"] == "async_timeout"
