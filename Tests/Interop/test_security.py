"""CURVE: a pyzmq client with its own certificate talks to ``zmanager serve`` with
``security.curve``; one whose key serve was not given gets nothing through.

The certificates are written by ``zmanager keygen`` and read by pyzmq's own
``zmq.auth.load_certificate``, so the two agree on the file format too.
"""

import pathlib
import pickle
import subprocess
import tempfile
import uuid

import pytest
import zmq
import zmq.auth
from conftest import cpython_bytes, split_frame, zmanager_binary

import digitalpy_env


def keygen(name: str, directory: pathlib.Path) -> None:
    subprocess.run([str(zmanager_binary()), "keygen", name, "--directory", str(directory)],
                   check=True, capture_output=True, text=True, timeout=60)


class CurvePeer:
    """A PUSH to the Subject and a SUB to the Integration Manager, both CURVE clients."""

    def __init__(self, endpoints: digitalpy_env.Endpoints, secret_file: pathlib.Path, server_public_file: pathlib.Path):
        public, secret = zmq.auth.load_certificate(str(secret_file))
        server_public, _ = zmq.auth.load_certificate(str(server_public_file))
        self.context = zmq.Context()
        self.push = self.context.socket(zmq.PUSH)
        self.sub = self.context.socket(zmq.SUB)
        for socket in (self.push, self.sub):
            socket.setsockopt(zmq.LINGER, 0)
            socket.curve_publickey = public
            socket.curve_secretkey = secret
            socket.curve_serverkey = server_public
        self.push.connect(endpoints.subject_pull)
        self.sub.connect(endpoints.integration_manager_pub)

    def close(self) -> None:
        self.push.close()
        self.sub.close()
        self.context.term()


@pytest.fixture
def keys():
    directory = pathlib.Path(tempfile.mkdtemp(prefix="zmk-", dir="/tmp"))
    keygen("server", directory)
    keygen("python-service", directory / "clients")
    keygen("stranger", directory / "strangers")
    yield directory
    for path in sorted(directory.rglob("*"), reverse=True):
        path.unlink() if path.is_file() else path.rmdir()
    directory.rmdir()


@pytest.mark.parametrize("transport", ["tcp", "ipc"])
def test_an_allowed_pyzmq_client_round_trips_and_a_stranger_gets_nothing(make_core, keys, transport):
    core = make_core(transport, workers=1, extra_config=(
        "security:\n  curve:\n"
        f"    secret_key: {keys / 'server.key_secret'}\n"
        f"    clients: {keys / 'clients'}\n"))
    server_public = keys / "server.key"

    stranger = CurvePeer(core.endpoints, keys / "strangers" / "stranger.key_secret", server_public)
    allowed = CurvePeer(core.endpoints, keys / "clients" / "python-service.key_secret", server_public)
    try:
        stranger.sub.setsockopt(zmq.SUBSCRIBE, b"")
        stranger_id = str(uuid.uuid4())
        stranger.push.send(b"Stamp~~svcX~Stamp~Push~" + stranger_id.encode() + b"~" + cpython_bytes({"name": "eve"}))

        allowed.sub.setsockopt(zmq.SUBSCRIBE, b"Stamp~~~~done~")
        assert digitalpy_env.wait_until_connected(allowed.push, allowed.sub), "an allowed CURVE client reaches serve"
        uid = str(uuid.uuid4())
        allowed.push.send(b"Stamp~~svcA~Stamp~Push~" + uid.encode() + b"~" + cpython_bytes({"name": "ada"}))
        assert allowed.sub.poll(10_000), "the result arrives"
        header, body = split_frame(allowed.sub.recv_multipart()[0])
        assert header == [b"Stamp", b"", b"", b"", b"done", uid.encode()]
        assert pickle.loads(body)["name"] == "ada"

        # Nothing of the stranger's reached the core, and it hears nothing.
        assert not stranger.sub.poll(200)
    finally:
        stranger.close()
        allowed.close()
    summary = core.stop()
    fields = dict(part.split("=", 1) for part in summary.split() if "=" in part)
    assert fields["drained"] == "true"
    assert fields["flows_started"] == "1", summary
    assert int(fields["auth_refused"]) >= 2, summary
    assert "CURVE client refused" in core.output.text()
