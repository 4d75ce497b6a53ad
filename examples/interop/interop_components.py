"""A DigitalPy component for the interop example: what a user's Python component looks like.

``DefaultActionMapper`` builds a new controller per request through
``ObjectFactory.get_instance_of(<class path>, {"request", "response"})`` and calls
``initialize(request, response)`` then ``execute(method)``, where the mapping line
``??Greet = interop_components.Greeter.greet`` names the class path and the method.
"""

import os

from digitalpy.core.main.controller import Controller


class Greeter(Controller):
    def __init__(self, request, response, action_mapper=None, configuration=None):
        super().__init__(request, response, action_mapper, configuration)

    def execute(self, method=None):
        # The facade convention: the method receives the request's values as arguments.
        getattr(self, method)(**self.request.get_values())

    def greet(self, name="world", **values):
        """Returns the request's values with a greeting and a stamp of this process, as
        ``zmanager.builtin.stamp`` does on the Swift side (``stamps``: who ran which step)."""
        stamps = list(values.pop("stamps", []))
        stamps.append(f"python-{os.getpid()}:{self.request.get_action()}")
        self.response.set_values({**values, "name": name, "greeting": f"hello {name}", "stamps": stamps})
