"""The deterministic gate's verdicts (scripts/callgrind-stages compare) on synthetic measurements.

Run by scripts/test: python3 -m unittest discover -s Tests/Scripts
"""

import json
import os
import subprocess
import tempfile
import unittest

SCRIPT = os.path.join(os.path.dirname(__file__), "..", "..", "scripts", "callgrind-stages")


def measurement(subject=2050.0, worker=2290.0, im=1770.0, bridge=0.0, allocations=1.0):
    def stage(instructions, allocs=0.0):
        return {"instructions_per_message": instructions, "allocations_per_message": allocs,
                "swift_allocations_per_message": 0.0, "syscalls_per_message": 0.09}
    stages = {"generator": stage(2010.0, 1.0), "subject": stage(subject, allocations),
              "worker": stage(worker, 1.0), "integration-manager": stage(im),
              "bridge": stage(bridge), "zmq-reaper": stage(-12.0)}
    total = subject + worker + im + bridge
    return {"messages": 20000, "valgrind": "valgrind-3.19.0",
            "scenario": {"in_flight": 100}, "stages": stages,
            "zmanager_total": stage(total, allocations + 1.0)}


class CompareTests(unittest.TestCase):
    def compare(self, base, head):
        with tempfile.TemporaryDirectory() as directory:
            paths = []
            for name, data in (("base.json", base), ("head.json", head)):
                path = os.path.join(directory, name)
                with open(path, "w") as f:
                    json.dump(data, f)
                paths.append(path)
            run = subprocess.run(["python3", SCRIPT, "compare", *paths],
                                 capture_output=True, text=True, timeout=60)
            return run.returncode, run.stdout + run.stderr

    def test_identical_measurements_pass(self):
        status, output = self.compare(measurement(), measurement())
        self.assertEqual(status, 0, output)

    def test_idle_bridge_noise_passes(self):
        # Seen in CI on unchanged code: 0.0 -> 13.1 and -13.4 -> -0.1.
        for base, head in ((0.0, 13.1), (-13.4, -0.1), (-16.0, 16.0)):
            status, output = self.compare(measurement(bridge=base), measurement(bridge=head))
            self.assertEqual(status, 0, f"{base} -> {head}: {output}")

    def test_bridge_doing_real_work_fails(self):
        status, output = self.compare(measurement(bridge=0.0), measurement(bridge=450.0))
        self.assertEqual(status, 1, output)
        self.assertIn("FAIL bridge", output)

    def test_a_stage_rising_more_than_three_percent_fails(self):
        status, output = self.compare(measurement(subject=2050.0), measurement(subject=2050.0 * 1.035))
        self.assertEqual(status, 1, output)
        self.assertIn("FAIL subject", output)

    def test_a_stage_rising_less_than_three_percent_passes(self):
        status, output = self.compare(measurement(subject=2050.0), measurement(subject=2050.0 * 1.025))
        self.assertEqual(status, 0, output)

    def test_a_new_allocation_per_message_fails(self):
        status, output = self.compare(measurement(), measurement(allocations=2.0))
        self.assertEqual(status, 1, output)
        self.assertIn("allocations per message", output)

    def test_a_missing_stage_is_an_error(self):
        head = measurement()
        del head["stages"]["worker"]
        status, output = self.compare(measurement(), head)
        self.assertEqual(status, 2, output)
        self.assertIn("worker missing from HEAD", output)


if __name__ == "__main__":
    unittest.main()
