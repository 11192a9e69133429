"""The ``ecs-facade`` command."""

import argparse
import sys
from collections.abc import Sequence

from ecs_facade import __version__


def _run(args: argparse.Namespace) -> int:
    import kopf

    import ecs_facade.controllers  # noqa: F401  (registers the handlers)

    kopf.configure(verbose=args.verbose, debug=args.debug)
    kopf.run(
        clusterwide=not args.namespace,
        namespaces=args.namespace or (),
        standalone=args.standalone,
        peering_name=args.peering,
        liveness_endpoint=args.liveness,
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ecs-facade", description="Amazon ECS semantics on Kubernetes.")
    parser.add_argument("--version", action="version", version=f"ecs-facade {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run the operator against the current kubeconfig or in-cluster")
    run.add_argument(
        "-n",
        "--namespace",
        action="append",
        help="watch this namespace (repeatable; glob patterns allowed); default: all namespaces",
    )
    run.add_argument(
        "--standalone", action="store_true", help="no peering: for a single replica and local runs"
    )
    run.add_argument("--peering", default=None, help="kopf peering object, for replicas with one active")
    run.add_argument("--liveness", default=None, help="liveness endpoint, e.g. http://0.0.0.0:8080/healthz")
    run.add_argument("-v", "--verbose", action="store_true")
    run.add_argument("--debug", action="store_true")
    run.set_defaults(func=_run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
