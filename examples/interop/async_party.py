"""A DigitalPy party answering the ASYNC step of flows run by a Swift ``zmanager serve``.

    async_party.py --flow Approve [--count N] [--im-pull …] [--im-pub …]

When a flow reaches an ``@ASYNC`` step the Swift Subject parks it and publishes the request as
``zmanager_async~PARKED~~<Flow>~<action>~<id>~<pickle>``; in single form (a Python caller) the
values carry ``prev_flows``, DigitalPy's continuation state, as a list of one dict of simple
values naming the ASYNC step and the id.

This party answers exactly as ``DigitalPyService.handle_command`` does (digitalpy 0.3.16): a
new ``Response`` with the request's id, flow name ``completed_command``, action ``done``, its own
values and ``prev_flows`` copied back, pushed with an ``IntegrationManagerPusher`` to the
Integration Manager — ``completed_command~~~~done~<id>~<pickle>``. The Swift node hands that
message to the Subject, and the flow goes on at its ASYNC step with these values as input.
"""

import argparse
import pathlib
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import digitalpy_env  # noqa: E402
import zmq  # noqa: E402
from digitalpy.core.main.object_factory import ObjectFactory  # noqa: E402
from digitalpy.core.main.singleton_configuration_factory import SingletonConfigurationFactory  # noqa: E402
from digitalpy.core.service_management.digitalpy_service import COMPLETED_COMMAND  # noqa: E402


class AsyncParty:
    """Subscribes to the parked requests of some flows and answers them DigitalPy-style."""

    def __init__(self):
        self.subscriber = ObjectFactory.get_new_instance("IntegrationManagerSubscriber")
        self.subscriber.setup()
        self.pusher = ObjectFactory.get_new_instance("IntegrationManagerPusher")
        self.pusher.setup()

    def subscribe(self, flow: str) -> None:
        self.subscriber.subscribe_to_topic(f"zmanager_async~PARKED~~{flow}~".encode())

    def wait_until_connected(self, timeout: float = 20.0) -> None:
        """Proves the subscriptions made so far reach the Integration Manager (the core's ping,
        sent through a plain PUSH to the Subject, which a DigitalPy party does not otherwise need)."""
        conf = SingletonConfigurationFactory.get_configuration_object("ZManagerConfiguration")
        context = zmq.Context.instance()
        push = context.socket(zmq.PUSH)
        push.setsockopt(zmq.LINGER, 0)
        push.connect(conf.subject_pull_address)
        try:
            if not digitalpy_env.wait_until_connected(push, self.subscriber.subscriber_socket, timeout):
                raise TimeoutError("the ZManager core did not answer a ping; is zmanager serve running?")
        finally:
            push.close()

    def next_request(self, timeout: float):
        """The next parked request (a DigitalPy ``Request``), or None after ``timeout`` seconds."""
        self.subscriber.subscriber_socket.setsockopt(zmq.RCVTIMEO, max(1, int(timeout * 1000)))
        return self.subscriber.fetch_integration_manager_request()

    def answer(self, command, values: dict) -> None:
        """``DigitalPyService.handle_command``'s answer, line for line."""
        resp = ObjectFactory.get_new_instance("Response")
        for key, value in values.items():
            resp.set_value(key, value)
        resp.set_id(command.get_id())
        resp.set_flow_name(COMPLETED_COMMAND)
        resp.set_action("done")
        resp.set_value("prev_flows", command.get_value("prev_flows"))
        resp.set_format("pickled")
        self.pusher.push_container(resp)

    def close(self) -> None:
        self.pusher.pusher_socket.setsockopt(zmq.LINGER, 1000)  # see Service.close
        self.subscriber.teardown()
        self.pusher.teardown()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--flow", action="append", default=[], help="flow whose ASYNC steps to answer (repeatable)")
    parser.add_argument("--count", type=int, default=0, help="stop after this many answers (0: run until killed)")
    digitalpy_env.add_endpoint_arguments(parser)
    args = parser.parse_args()
    digitalpy_env.bootstrap(digitalpy_env.endpoints_from_arguments(args))
    party = AsyncParty()
    for flow in args.flow or ["Approve"]:
        party.subscribe(flow)
    party.wait_until_connected()
    print("async party ready", flush=True)
    answered = 0
    while args.count == 0 or answered < args.count:
        request = party.next_request(timeout=1.0)
        if request is None:
            continue
        print(f"parked id={request.get_id()} step={request.action_key.context}@ASYNC?{request.get_action()} "
              f"prev_flows={request.get_value('prev_flows')}", flush=True)
        party.answer(request, {"approved": True, "approved_at": time.time()})
        answered += 1
    party.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
