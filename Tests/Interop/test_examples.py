"""README's "Python interoperability" example: the scripts, run as documented (with endpoint
flags pointing at a test core instead of DigitalPy's default ports)."""

import subprocess
import sys

from conftest import EXAMPLE, OutputLines


def endpoint_arguments(core) -> list[str]:
    e = core.endpoints
    return ["--subject", e.subject_pull, "--subject-workers", e.subject_push,
            "--im-pull", e.integration_manager_pull, "--im-pub", e.integration_manager_pub]


def run_script(name: str, *arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(EXAMPLE / name), *arguments],
                          capture_output=True, text=True, timeout=90)


def test_the_example_scripts_run_as_documented(make_core, make_python_worker):
    core = make_core("tcp", workers=2)
    args = endpoint_arguments(core)

    stamped = run_script("service.py", "--flow", "Stamp", "--count", "3", *args)
    assert stamped.returncode == 0, stamped.stdout + stamped.stderr
    assert stamped.stdout.count("result id=") == 3, stamped.stdout

    party = subprocess.Popen([sys.executable, str(EXAMPLE / "async_party.py"), "--flow", "Approve", "--count", "2", *args],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert OutputLines(party.stdout).wait_for("async party ready", timeout=60), "the party subscribed"
        approved = run_script("service.py", "--flow", "Approve", "--count", "2", *args)
        assert approved.returncode == 0, approved.stdout + approved.stderr
        assert approved.stdout.count("'approved': True") == 2, approved.stdout
        assert party.wait(timeout=30) == 0
    finally:
        if party.poll() is None:
            party.kill()
            party.wait()
    core.stop()

    python_core = make_core("tcp", workers=0)
    make_python_worker(python_core.endpoints)
    greeted = run_script("service.py", "--flow", "Greet", "--values", '{"name": "grace"}', "--count", "2",
                         *endpoint_arguments(python_core))
    assert greeted.returncode == 0, greeted.stdout + greeted.stderr
    assert greeted.stdout.count("'greeting': 'hello grace'") == 2, greeted.stdout
