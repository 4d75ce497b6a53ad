"""Fixtures for the Python interoperability tests: a real ``zmanager serve`` process with a
temporary configuration (tcp or ipc, loopback only), DigitalPy 0.3.16's own classes in this
process, and real ``DefaultRoutingWorker`` processes.

Every wait has a deadline and waits on a real message or line of output; nothing sleeps and
hopes. Run through ``scripts/test-interop``, which creates the venv and builds ``zmanager``.
"""

from __future__ import annotations

import os
import pathlib
import pickle
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from typing import Callable, Optional

import pytest
import zmq

ROOT = pathlib.Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "interop"
sys.path.insert(0, str(EXAMPLE))

import digitalpy_env  # noqa: E402

TRANSPORTS = ["tcp", "ipc"]


def zmanager_binary() -> pathlib.Path:
    path = pathlib.Path(os.environ.get("ZMANAGER_BIN", ROOT / ".build" / "debug" / "zmanager"))
    if not os.access(path, os.X_OK):
        pytest.fail(f"zmanager executable not found at {path}; run scripts/test-interop (it builds it) or set ZMANAGER_BIN")
    return path


@pytest.fixture(scope="session", autouse=True)
def digitalpy_runtime():
    """DigitalPy's singletons, configured once for this process, with the example's flows."""
    digitalpy_env.bootstrap(flow_files=[EXAMPLE / "flows.ini"])


class OutputLines:
    """A child's stdout, collected line by line on a thread so waits can have deadlines."""

    def __init__(self, stream):
        self.lines: list[str] = []
        self.condition = threading.Condition()
        self.thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self.thread.start()

    def _read(self, stream):
        for line in stream:
            with self.condition:
                self.lines.append(line.rstrip("\n"))
                self.condition.notify_all()
        with self.condition:
            self.lines.append(None)  # end of output
            self.condition.notify_all()

    def wait_for(self, prefix: str, timeout: float) -> Optional[str]:
        deadline = time.monotonic() + timeout
        with self.condition:
            while True:
                for line in self.lines:
                    if line is not None and line.startswith(prefix):
                        return line
                if None in self.lines or time.monotonic() >= deadline:
                    return None
                self.condition.wait(deadline - time.monotonic())

    def text(self) -> str:
        with self.condition:
            return "\n".join(line for line in self.lines if line is not None)


class Core:
    """``zmanager serve`` with a temporary configuration built from the example's files."""

    def __init__(self, transport: str, workers: int, async_timeout: str = "30s", extra_config: str = ""):
        # Short directory: ipc paths are limited to ~107 bytes.
        self.directory = pathlib.Path(tempfile.mkdtemp(prefix="zmi-", dir="/tmp"))

        def endpoint(role: str) -> str:
            return f"ipc://{self.directory}/{role}.sock" if transport == "ipc" else "tcp://127.0.0.1:*"

        config = self.directory / "zmanager.yaml"
        config.write_text(
            "endpoints:\n"
            f"  subject: {endpoint('subject')}\n"
            f"  workers: {endpoint('workers')}\n"
            f"  integration_manager_pull: {endpoint('im-pull')}\n"
            f"  integration_manager_pub: {endpoint('im-pub')}\n"
            f"flows: {EXAMPLE / 'flows.ini'}\n"
            f"mappings: {EXAMPLE / 'swift_mapping.ini'}\n"
            f"workers:\n  count: {workers}\n"
            f"async:\n  timeout: {async_timeout}\n"
            "drain_timeout: 10s\n"
            + extra_config
        )
        self.process = subprocess.Popen(
            [str(zmanager_binary()), "serve", "--config", str(config)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        self.output = OutputLines(self.process.stdout)
        ready = self.output.wait_for("ready ", timeout=30)
        if ready is None:
            self.kill()
            pytest.fail(f"zmanager serve did not print its ready line:\n{self.output.text()}")
        self.endpoints = digitalpy_env.Endpoints.from_ready_line(ready)
        digitalpy_env.set_endpoints(self.endpoints)
        self.summary: Optional[str] = None

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> str:
        """SIGTERM, as an operator stops it; returns the ``drained=…`` summary line."""
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"zmanager serve did not stop within 30 s of SIGTERM:\n{self.output.text()}")
        self.summary = self.output.wait_for("drained=", timeout=5) or ""
        return self.summary

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def cleanup(self) -> None:
        self.kill()
        shutil.rmtree(self.directory, ignore_errors=True)


@pytest.fixture
def make_core():
    """Starts cores on demand; each is stopped (SIGTERM, checked) or killed at the end."""
    cores: list[Core] = []

    def start(transport: str, workers: int = 2, **options) -> Core:
        core = Core(transport, workers, **options)
        cores.append(core)
        return core

    yield start
    for core in cores:
        if core.alive():
            core.stop()
        core.cleanup()


class PythonWorker:
    """A real DigitalPy ``DefaultRoutingWorker`` process (``examples/interop/python_worker.py``)."""

    def __init__(self, endpoints: digitalpy_env.Endpoints):
        self.process = subprocess.Popen(
            [sys.executable, str(EXAMPLE / "python_worker.py"),
             "--subject", endpoints.subject_pull, "--subject-workers", endpoints.subject_push,
             "--im-pull", endpoints.integration_manager_pull, "--im-pub", endpoints.integration_manager_pub],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=EXAMPLE,
        )
        self.output = OutputLines(self.process.stdout)
        if self.output.wait_for("digitalpy worker starting", timeout=60) is None:
            self.stop()
            pytest.fail(f"the DigitalPy worker did not start:\n{self.output.text()}")

    def stop(self) -> None:
        # DigitalPy's Subject stops its workers with Process.terminate(): SIGTERM.
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


@pytest.fixture
def make_python_worker():
    workers: list[PythonWorker] = []

    def start(endpoints: digitalpy_env.Endpoints) -> PythonWorker:
        worker = PythonWorker(endpoints)
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.stop()


class RawPeer:
    """Plain pyzmq, for byte-level checks: a PUSH to the Subject (or the Integration Manager)
    and a SUB to the Integration Manager. Frames are sent and received exactly as given."""

    def __init__(self, endpoints: digitalpy_env.Endpoints):
        self.context = zmq.Context()
        self.push = self.context.socket(zmq.PUSH)
        self.push.setsockopt(zmq.LINGER, 1000)
        self.push.connect(endpoints.subject_pull)
        self.to_im = self.context.socket(zmq.PUSH)
        self.to_im.setsockopt(zmq.LINGER, 1000)
        self.to_im.connect(endpoints.integration_manager_pull)
        self.sub = self.context.socket(zmq.SUB)
        self.sub.setsockopt(zmq.LINGER, 0)
        self.sub.connect(endpoints.integration_manager_pub)

    def subscribe(self, *prefixes: bytes) -> None:
        for prefix in prefixes:
            self.sub.setsockopt(zmq.SUBSCRIBE, prefix)
        assert digitalpy_env.wait_until_connected(self.push, self.sub), "the core answers a ping"

    def receive(self, predicate: Callable[[bytes], bool] = lambda frame: True, timeout: float = 10.0) -> bytes:
        """The first published message accepted by ``predicate``; fails after ``timeout``.
        Checks that it is one frame (DigitalPy's form)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.sub.poll(int(max(1, (deadline - time.monotonic()) * 1000))):
                frames = self.sub.recv_multipart()
                if predicate(frames[0]):
                    assert len(frames) == 1, f"a single-frame answer, got {len(frames)} frames"
                    return frames[0]
        pytest.fail(f"no matching message within {timeout} s")

    def close(self) -> None:
        for socket in (self.push, self.to_im, self.sub):
            socket.close()
        self.context.term()


@pytest.fixture
def raw_peer():
    peers: list[RawPeer] = []

    def make(endpoints: digitalpy_env.Endpoints) -> RawPeer:
        peer = RawPeer(endpoints)
        peers.append(peer)
        return peer

    yield make
    for peer in peers:
        peer.close()


def split_frame(frame: bytes) -> tuple[list[bytes], bytes]:
    """(the six header fields, the body) of a single-form frame, as DigitalPy splits it."""
    parts = frame.split(b"~", 6)
    assert len(parts) == 7, f"a complete header: {frame[:80]!r}"
    return parts[:6], parts[6]


def loads(body: bytes):
    return pickle.loads(body)


def cpython_bytes(values) -> bytes:
    """What CPython 3.11 writes for ``values`` (DigitalPy's format: protocol 4)."""
    return pickle.dumps(values, protocol=4)
