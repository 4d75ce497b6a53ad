"""Runs one real DigitalPy ``DefaultRoutingWorker`` behind a Swift ``zmanager serve``.

    python_worker.py --flows flows.ini --mapping python_mapping.ini [--subject-workers …]

The worker is DigitalPy 0.3.16's own class, started the way ``Subject._start_workers`` starts
it (``worker.start(factory, configuration_factory)``), in a process of its own. It pulls steps
from the Subject's worker endpoint, executes them through ``DefaultActionMapper`` and the
action mapping, and pushes ``<Flow>~~~~done~<id>~<pickle>`` to the Integration Manager.
SIGTERM stops it, as DigitalPy's Subject stops its workers (``Process.terminate``).

Python workers read single-form messages only (``recv_multipart().pop(0)``), so the flows they
serve must be started by DigitalPy services or by Swift clients using ``form: .single``. A
Subject round-robins over every connected worker, so Swift and Python workers sharing one
Subject must map the same steps.
"""

import argparse
import pathlib
import sys

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # interop_components, digitalpy_env

import digitalpy_env  # noqa: E402
from digitalpy.core.main.object_factory import ObjectFactory  # noqa: E402
from digitalpy.core.main.singleton_configuration_factory import SingletonConfigurationFactory  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--flows", action="append", default=[], help="flow .ini file (repeatable)")
    parser.add_argument("--mapping", action="append", default=[], help="[actionmapping] .ini file (repeatable)")
    digitalpy_env.add_endpoint_arguments(parser)
    args = parser.parse_args()
    digitalpy_env.bootstrap(
        digitalpy_env.endpoints_from_arguments(args),
        flow_files=args.flows or [HERE / "flows.ini"],
        mapping_files=args.mapping or [HERE / "python_mapping.ini"],
    )
    worker = ObjectFactory.get_instance("RoutingWorker")
    print(f"digitalpy worker starting subject_workers={args.subject_workers}", flush=True)
    worker.start(ObjectFactory.get_instance("factory"), SingletonConfigurationFactory.get_instance())


if __name__ == "__main__":
    main()
