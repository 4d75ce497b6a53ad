"""The DigitalPy 0.3.16 runtime a ZManager peer needs, set up without a DigitalPy core.

DigitalPy's ZManager classes (``SubjectPusher``, ``IntegrationManagerSubscriber``,
``IntegrationManagerPusher``, ``DefaultRoutingWorker``) get everything through two process-wide
singletons: ``ObjectFactory`` (built from ``core_config.ini``) and
``SingletonConfigurationFactory`` (``configuration_management.ini``, the action mapping, the
flows). In a DigitalPy application ``DigitalPy.__init__`` and ``register_core_components`` fill
them and every service and worker process inherits them by fork. A process talking to the Swift
core has no DigitalPy application around it, so :func:`bootstrap` performs the same steps —
without the HTTP API, the core services and the telemetry exporters, which a ZManager peer does
not use — and the classes then run unchanged.

What the classes need, found by reading and running them:

* ``DefaultRoutingWorker`` is built by the factory with an ``IAM`` facade (its
  ``DefaultActionMapper`` asks IAM to authorise every action), so the IAM component is
  registered as ``DigitalPy.register_core_components`` does. That writes IAM's sqlite file and
  a DEBUG log inside the installed package (DigitalPy's own behaviour); it stays in the venv.
* The worker steps flows by ``ActionFlowController`` and resolves actions through the
  ``[actionmapping]`` section, so both are loaded from the same files the Swift core reads.
* Endpoints come from the ``ZManagerConfiguration`` object; DigitalPy's defaults
  (``tcp://localhost:19030``/``19031``/``19034``/``19035``) match ``zmanager serve``'s, and
  :func:`set_endpoints` points them elsewhere.
"""

from __future__ import annotations

import argparse
import pathlib
import secrets
import time
from dataclasses import dataclass
from typing import Iterable, Optional

import digitalpy
import zmq
from digitalpy.core.digipy_configuration.controllers.action_flow_controller import (
    ActionFlowController,
)
from digitalpy.core.digipy_configuration.impl.inifile_configuration import (
    InifileConfiguration,
)
from digitalpy.core.main.impl.configuration_factory import ConfigurationFactory
from digitalpy.core.main.impl.default_factory import DefaultFactory
from digitalpy.core.main.object_factory import ObjectFactory
from digitalpy.core.main.singleton_configuration_factory import (
    SingletonConfigurationFactory,
)

CORE = pathlib.Path(digitalpy.__file__).parent / "core"


@dataclass
class Endpoints:
    """The four ZManager endpoints, as DigitalPy's ``ZManagerConfiguration`` names them."""

    subject_pull: str = "tcp://localhost:19030"
    subject_push: str = "tcp://localhost:19031"
    integration_manager_pull: str = "tcp://localhost:19035"
    integration_manager_pub: str = "tcp://localhost:19034"

    @classmethod
    def from_ready_line(cls, line: str) -> "Endpoints":
        """Parses ``zmanager serve``'s ``ready subject=… workers=… …`` line."""
        fields = dict(part.split("=", 1) for part in line.split()[1:] if "=" in part)
        return cls(
            subject_pull=fields["subject"],
            subject_push=fields["workers"],
            integration_manager_pull=fields["integration_manager_pull"],
            integration_manager_pub=fields["integration_manager_pub"],
        )


def add_endpoint_arguments(parser: argparse.ArgumentParser) -> None:
    """``--subject``, ``--subject-workers``, ``--im-pull``, ``--im-pub`` (DigitalPy's defaults)."""
    defaults = Endpoints()
    parser.add_argument("--subject", default=defaults.subject_pull, help="Subject PULL (services push here)")
    parser.add_argument("--subject-workers", default=defaults.subject_push, help="Subject PUSH (workers pull here)")
    parser.add_argument("--im-pull", default=defaults.integration_manager_pull, help="Integration Manager PULL")
    parser.add_argument("--im-pub", default=defaults.integration_manager_pub, help="Integration Manager PUB")


def endpoints_from_arguments(args: argparse.Namespace) -> Endpoints:
    return Endpoints(args.subject, args.subject_workers, args.im_pull, args.im_pub)


_bootstrapped = False


def bootstrap(
    endpoints: Optional[Endpoints] = None,
    flow_files: Iterable[str | pathlib.Path] = (),
    mapping_files: Iterable[str | pathlib.Path] = (),
) -> None:
    """Configures DigitalPy's singletons in this process (once), then endpoints, flows, mapping."""
    global _bootstrapped
    if not _bootstrapped:
        configuration = InifileConfiguration("")
        configuration.add_configuration(str(CORE / "core_config.ini"))
        ObjectFactory.configure(DefaultFactory(configuration))
        SingletonConfigurationFactory.configure(ConfigurationFactory())
        management = InifileConfiguration("")
        management.add_configuration(str(CORE / "configuration_management.ini"))
        SingletonConfigurationFactory.add_configuration(management)
        _register_iam()
        _bootstrapped = True
    if endpoints is not None:
        set_endpoints(endpoints)
    for path in flow_files:
        load_flows(path)
    for path in mapping_files:
        load_mapping(path)


def _register_iam() -> None:
    # DigitalPy.register_core_components' register_component, for the one component the
    # routing worker's action mapper needs.
    from digitalpy.core.IAM.IAM_facade import IAM

    facade = IAM(None, None, None, None)
    mapping = InifileConfiguration(facade.get_configuration_path())
    mapping.add_configuration("")
    SingletonConfigurationFactory.add_configuration(mapping)
    ObjectFactory.register_instance(facade.__class__.__name__.lower() + "actionmapper", facade.get_action_mapper())
    facade.setup()


def set_endpoints(endpoints: Endpoints) -> None:
    """Points DigitalPy's ZManagerConfiguration at a core. Pushers and subscribers read it
    when they are created (pushers) or set up (subscribers), so create them afterwards."""
    conf = SingletonConfigurationFactory.get_configuration_object("ZManagerConfiguration")
    conf.subject_pull_address = endpoints.subject_pull
    conf.subject_push_address = endpoints.subject_push
    conf.integration_manager_pull_address = endpoints.integration_manager_pull
    conf.integration_manager_pub_address = endpoints.integration_manager_pub


class _FlowFile:
    """What ``ActionFlowController.create_action_flow`` reads of a ``File``: its bytes."""

    def __init__(self, contents: bytes):
        self.contents = contents


def load_flows(path: str | pathlib.Path) -> None:
    """Registers the flows of an ``.ini`` file, as ``DigitalPy.register_flows`` does."""
    ActionFlowController().create_action_flow(_FlowFile(pathlib.Path(path).read_bytes()))


def load_mapping(path: str | pathlib.Path) -> None:
    """Adds an ``[actionmapping]`` file, as component registration does."""
    mapping = InifileConfiguration("")
    mapping.add_configuration(str(path))
    SingletonConfigurationFactory.add_configuration(mapping)


# Our core's liveness probe. Not DigitalPy: DigitalPy peers just start sending and hope
# their subscription has reached the publisher. The Swift core answers `[\0 I][token]` on the
# Subject with `zmanager_control~PONG~~~~<token>~` on the Integration Manager, which proves
# both paths, and every subscription made before the ping, are live.
PING = b"\x00I"


def wait_until_connected(push_socket: zmq.Socket, sub_socket: zmq.Socket, timeout: float = 20.0) -> bool:
    """Pings through ``push_socket`` (to the Subject) until the PONG reaches ``sub_socket``.

    Use the sockets of a ``SubjectPusher`` (``pusher_socket``) and an
    ``IntegrationManagerSubscriber`` (``subscriber_socket``) after subscribing. Messages that
    arrive meanwhile are dropped, so call it before sending requests.
    """
    token = "ping-" + secrets.token_hex(8)
    topic = ("zmanager_control~PONG~~~~" + token + "~").encode()
    sub_socket.setsockopt(zmq.SUBSCRIBE, topic)
    poller = zmq.Poller()
    poller.register(sub_socket, zmq.POLLIN)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            push_socket.send_multipart([PING, token.encode()])
            retry = time.monotonic() + 0.1
            while time.monotonic() < retry:
                if poller.poll(20) and sub_socket.recv_multipart()[0].startswith(topic):
                    return True
        return False
    finally:
        sub_socket.setsockopt(zmq.UNSUBSCRIBE, topic)

