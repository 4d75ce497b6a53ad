"""A DigitalPy service using a Swift ``zmanager serve`` as its ZManager.

    service.py --flow Stamp --values '{"name": "ada"}' [--count N] [--subject …] [--im-pub …]

It does what a ``DigitalPyService`` does, with DigitalPy 0.3.16's own classes: builds a
``Request`` whose action key is the flow's first step (``flow.actions[0]``), pushes it with
``SubjectPusher.push_container(request, service_id)`` (one frame,
``<Flow>~~<service>~<Context>~Push~<uuid>~<pickle>``), and receives the flow's result with an
``IntegrationManagerSubscriber`` subscribed to ``<Flow>~~~~done`` (DigitalPy's
``to_generic_topic``) and to the core's errors (``zmanager_error~``). It prints one line per
answer and exits non-zero unless every request got its result.
"""

import argparse
import json
import pathlib
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import digitalpy_env  # noqa: E402
import zmq  # noqa: E402
from digitalpy.core.digipy_configuration.domain.model.actionkey import ActionKey  # noqa: E402
from digitalpy.core.main.object_factory import ObjectFactory  # noqa: E402
from digitalpy.core.main.singleton_configuration_factory import SingletonConfigurationFactory  # noqa: E402


class Service:
    """The ZManager side of a DigitalPy service: a SubjectPusher and an IntegrationManagerSubscriber."""

    def __init__(self, service_id: str = "example-service"):
        self.service_id = service_id
        self.pusher = ObjectFactory.get_new_instance("SubjectPusher")
        self.pusher.setup()
        self.subscriber = ObjectFactory.get_new_instance("IntegrationManagerSubscriber")
        self.subscriber.setup()
        self.subscriber.subscribe_to_topic(b"zmanager_error~")

    def subscribe_results(self, flow: str) -> None:
        done = ActionKey(None, None)
        done.config = flow
        done.action = "done"
        self.subscriber.subscribe_to_action(done)  # "<flow>~~~~done", as DigitalPyService does

    def wait_until_connected(self, timeout: float = 20.0) -> None:
        if not digitalpy_env.wait_until_connected(self.pusher.pusher_socket, self.subscriber.subscriber_socket, timeout):
            raise TimeoutError("the ZManager core did not answer a ping; is zmanager serve running?")

    def push(self, flow: str, values: dict):
        """Starts ``flow`` with ``values``; returns the request (its id correlates the result)."""
        request = ObjectFactory.get_new_instance("Request")
        request.action_key = SingletonConfigurationFactory.get_action_flow(flow).actions[0]
        request.set_values(dict(values))
        self.pusher.push_container(request, self.service_id)
        return request

    def receive(self, timeout: float):
        """The next published message as DigitalPy parses it (a ``Request``), or None."""
        self.subscriber.subscriber_socket.setsockopt(zmq.RCVTIMEO, max(1, int(timeout * 1000)))
        return self.subscriber.fetch_integration_manager_response()

    def close(self) -> None:
        # DigitalPy's pushers keep libzmq's default infinite linger, so tearing one down after
        # the core has gone would block forever; a second is plenty for a pushed request.
        self.pusher.pusher_socket.setsockopt(zmq.LINGER, 1000)
        self.subscriber.teardown()
        self.pusher.teardown()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--flow", default="Stamp")
    parser.add_argument("--values", default='{"name": "ada"}', help="the request's values, as JSON")
    parser.add_argument("--count", type=int, default=1)
    parser.add_argument("--flows", default=str(HERE / "flows.ini"), help="the flow file (for the first step)")
    parser.add_argument("--timeout", type=float, default=20.0, help="seconds to wait for all results")
    digitalpy_env.add_endpoint_arguments(parser)
    args = parser.parse_args()
    digitalpy_env.bootstrap(digitalpy_env.endpoints_from_arguments(args), flow_files=[args.flows])

    service = Service()
    service.subscribe_results(args.flow)
    service.wait_until_connected()
    pending = {}
    for seq in range(args.count):
        request = service.push(args.flow, {**json.loads(args.values), "seq": seq})
        pending[request.get_id()] = seq
    failed = False
    deadline = time.monotonic() + args.timeout
    while pending and time.monotonic() < deadline:
        message = service.receive(timeout=deadline - time.monotonic())
        if message is None or message.get_id() not in pending:
            continue
        del pending[message.get_id()]
        if message.action_key.config == "zmanager_error":
            failed = True
            print(f"error id={message.get_id()} kind={message.get_action()} values={message.get_values()}")
        else:
            print(f"result id={message.get_id()} topic={message.action_key.config}~~~~{message.get_action()} "
                  f"values={message.get_values()}")
    for request_id in pending:
        print(f"missing id={request_id}")
    service.close()
    return 1 if failed or pending else 0


if __name__ == "__main__":
    sys.exit(main())
