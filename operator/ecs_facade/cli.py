"""The ``ecs-facade`` command: run the operator, convert and render task definitions offline."""

import argparse
import codecs
import json
import re
import sys
from collections.abc import Sequence
from typing import Any, TextIO

import yaml

from ecs_facade import __version__
from ecs_facade.api import API_VERSION, KIND_TASK_DEFINITION


class CliError(Exception):
    """A problem with the user's input: printed as one clear message, exit code 1."""


def _limit_malloc_arenas(arenas: int = 2) -> None:
    """What ``MALLOC_ARENA_MAX=2`` does, unless that is set: glibc gives every thread that
    allocates its own arena (up to eight per core), and the memory that bursts of watch events
    free stays spread over them. Before any thread starts, so that it counts for all."""
    import ctypes
    import ctypes.util
    import os

    if "MALLOC_ARENA_MAX" in os.environ:
        return
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt(-8, arenas)  # M_ARENA_MAX
    except (OSError, AttributeError):
        pass  # not glibc (musl, macOS): nothing to limit


def _run(args: argparse.Namespace) -> int:
    _limit_malloc_arenas()
    from ecs_facade.config import Config
    from ecs_facade.kube import client as kube

    try:
        settings = Config.from_env()  # once, before the leader election's client and kopf's start-up
    except ValueError as error:
        raise CliError(f"operator settings: {error}") from error
    api_options = _api_options(args)
    api_threads = 0
    if api_options.enabled:
        from ecs_facade.ecsapi.serving import WORKER_THREADS

        api_threads = WORKER_THREADS
    kube.size_pool(settings.workers + settings.service_workers + api_threads)
    kube.set_timeouts(settings.api_connect_timeout_seconds, settings.api_read_timeout_seconds)
    import kopf

    import ecs_facade.controllers  # noqa: F401  registers the handlers

    kopf.configure(verbose=args.verbose, debug=args.debug)
    if args.metrics_port:
        from ecs_facade.metrics import serve

        serve(args.metrics_port)
    # the ECS API before the leader election: a standby serves it too (docs/ecs-api.md,
    # "Serving the API"); a port in use or a certificate that cannot be read stops the start
    api = _serve_api(api_options, settings) if api_options.enabled else None
    elector = _elect(args, settings) if args.leader_elect else None
    memories = _kopf_memories()
    try:
        kopf.run(
            clusterwide=not args.namespace,
            namespaces=args.namespace or (),
            standalone=args.standalone or args.leader_elect,
            peering_name=args.peering,
            liveness_endpoint=args.liveness,
            # controllers/settings.py (read_settings) and controllers/informers.py (start_informers)
            memo=kopf.Memo(config=settings, namespaces=tuple(args.namespace or ()), memories=memories),
            memories=memories,
        )
    finally:
        if api is not None:
            api.stop()
        if elector is not None:
            elector.stop()  # kopf has stopped: no renewals any more, and the Lease released
    return 0


def _api_options(args: argparse.Namespace) -> Any:
    """The ECS API's flags, else their ECS_FACADE_API_* variables (ecsapi/serving.py)."""
    import os

    from ecs_facade.ecsapi.options import ApiConfigError, ApiOptions

    run = args.command == "run"
    try:
        return ApiOptions.from_flags(vars(args), os.environ, "--api-" if run else "--", always=not run)
    except ApiConfigError as error:
        raise CliError(f"ECS API: {error}" if args.command == "run" else str(error)) from None


def _serve_api(options: Any, settings: Any) -> Any:
    """`run --api`: the ECS API in this process, on a thread and event loop of its own."""
    from ecs_facade.ecsapi.serving import ApiConfigError, ApiThread

    try:
        api = ApiThread.start(options, settings.arns)
    except ApiConfigError as error:
        raise CliError(f"ECS API: {error}") from None
    except OSError as error:
        raise CliError(f"ECS API: cannot listen on {options.host}:{options.port}: {error.strerror or error}") from None
    print(f"ECS API: serving on {options.scheme}://{options.host}:{api.port}", file=sys.stderr)
    return api


def _kopf_memories() -> Any:
    """kopf's per-object memories, made here to be counted on /metrics
    (``ecs_facade_state_entries{store="kopf.memories"}``, docs/reliability.md#churn). kopf
    does not export the class: a kopf without it at this path runs with its own, uncounted."""
    try:
        from kopf._core.reactor.inventory import ResourceMemories
    except ImportError:
        return None
    return ResourceMemories()


class _Leadership:
    """The leader's threads (renewals, the deadline's watchdog) and how it stops."""

    def __init__(self, elector: Any) -> None:
        import threading

        self.elector = elector
        self.halt = threading.Event()
        self.threads = [
            threading.Thread(target=elector.keep_leading, args=(self.halt,), name="lease-renewal", daemon=True),
            threading.Thread(target=elector.watch, args=(self.halt,), name="lease-watchdog", daemon=True),
        ]
        for thread in self.threads:
            thread.start()

    def stop(self) -> None:
        from ecs_facade.kube.client import set_write_fence

        self.halt.set()
        for thread in self.threads:
            thread.join(self.elector.timings.renew_deadline)
        self.elector.release()
        set_write_fence(None)


def _elect(args: argparse.Namespace, settings: Any) -> _Leadership:
    """Wait as a standby (answering health probes) until this replica holds the Lease, then
    renew it (leader.py has the rules): every write of the operator asks the Lease's deadline
    first (kube/client.py's write fence), and the moment leadership is lost the process exits
    with code 1.

    Exiting, rather than stopping kopf: kopf's graceful stop lets its handlers and the service
    workers finish what they are doing, which means writes after a standby may have started;
    ``os._exit`` stops every thread at once, and nothing of the operator's is kept only in
    memory that a new start does not rebuild from the cluster. The chart's Deployment restarts
    the container (restartPolicy Always), and the new process is a standby with a new identity.
    A stopped process that is continued (SIGSTOP, SIGCONT) checks the deadline in the main
    thread, kopf's event loop, before that thread runs on: kopf's own writes (finalizers, its
    progress annotations, its Events) do not pass the write fence."""
    import contextlib
    import copy
    import os
    import signal
    import socket
    import threading
    import uuid
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from urllib.parse import urlparse

    from kubernetes import client

    from ecs_facade.kube.client import _api_client, set_write_fence
    from ecs_facade.leader import KubeLease, LeaderElector, LeadershipLost, Timings

    namespace = args.lease_namespace or os.environ.get("POD_NAMESPACE") or "default"
    # one identity per process (client-go: host and a UUID): a restarted container is a new
    # candidate, and never mistakes the Lease its previous process held for its own
    identity = f"{os.environ.get('POD_NAME') or socket.gethostname()}_{uuid.uuid4().hex[:8]}"
    # a client of its own: not behind the write fence, not waiting for the workers' pool, and
    # no retries inside a call (each Lease call is bounded by what is left of the deadline)
    configuration = copy.deepcopy(_api_client().configuration)
    configuration.retries = False
    api = client.ApiClient(configuration)
    api.user_agent = f"ecs-facade/{__version__} leader-election"

    def exit_now(reason: str) -> None:
        sys.stderr.write(f"leader election: {identity} stopped leading ({reason}); exiting\n")
        sys.stderr.flush()
        os._exit(1)

    elector = LeaderElector(
        KubeLease(client.CoordinationV1Api(api), args.lease_name, namespace),
        identity,
        Timings(
            lease_duration=settings.lease_duration_seconds,
            renew_deadline=settings.lease_renew_deadline_seconds,
            retry_period=settings.lease_retry_period_seconds,
        ),
        on_lost=exit_now,
    )
    standby = None
    if args.liveness:

        class Health(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"standby")

            def log_message(self, *_: Any) -> None:
                pass

        url = urlparse(args.liveness)
        standby = ThreadingHTTPServer((url.hostname or "0.0.0.0", url.port or 8080), Health)
        threading.Thread(target=standby.serve_forever, daemon=True).start()
    print(f"leader election: {identity} waiting for lease {namespace}/{args.lease_name}", file=sys.stderr)
    elector.wait_for_leadership(threading.Event())
    if standby is not None:
        standby.shutdown()
        standby.server_close()  # kopf's liveness endpoint takes the port
    set_write_fence(elector.check)

    def resumed(*_: Any) -> None:
        with contextlib.suppress(LeadershipLost):  # after a release at shutdown: nothing to do
            elector.check()

    signal.signal(signal.SIGCONT, resumed)
    return _Leadership(elector)


def _decode(raw: bytes) -> str:
    """UTF-8, with or without a byte order mark, or UTF-16 with one: what Windows shells write when
    `aws ecs describe-task-definition` output is redirected to a file."""
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return raw.decode("utf-16")
    return raw.decode("utf-8-sig")


def _read_document(path: str) -> dict[str, Any]:
    """ECS JSON, or YAML (an ECSTaskDefinition or plain ECS fields); ``-`` is stdin.

    JSON is read as JSON first: YAML refuses the tab indentation that many ECS JSON files have."""
    try:
        if path == "-":
            raw = sys.stdin.buffer.read() if hasattr(sys.stdin, "buffer") else sys.stdin.read().encode()
        else:
            with open(path, "rb") as handle:
                raw = handle.read()
        text = _decode(raw)
    except OSError as error:
        raise CliError(f"cannot read {path}: {error.strerror}") from error
    except UnicodeDecodeError as error:
        raise CliError(f"cannot read {path}: not UTF-8 or UTF-16 text ({error.reason} at byte {error.start})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as json_error:
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as yaml_error:
            raise CliError(
                f"{path} is neither JSON ({json_error.msg}: line {json_error.lineno} column {json_error.colno})"
                f" nor YAML ({_one_line(str(yaml_error))})"
            ) from None
    if not isinstance(data, dict):
        raise CliError(f"{path} holds no task definition object")
    return data


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _ecs_fields(document: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """The ECS fields and the object name, from ECS JSON or an ECSTaskDefinition manifest."""
    if document.get("kind") == KIND_TASK_DEFINITION:
        return dict(document.get("spec") or {}), (document.get("metadata") or {}).get("name")
    return document, None


def _default_family(fields: dict[str, Any], name: str | None) -> str:
    inner = fields.get("taskDefinition")
    family = (inner.get("family") if isinstance(inner, dict) else None) or fields.get("family") or name
    if not family:
        raise CliError("the task definition has no family (and no metadata.name to default it to)")
    return str(family)


def _check(fields: dict[str, Any]) -> None:
    """The API server's checks, offline (the CRD's schema and CEL rules): refused here as on apply."""
    from ecs_facade.validation import validate

    problems = validate(KIND_TASK_DEFINITION, fields).problems
    if problems:
        shown = "".join(f"\n  {problem}" for problem in problems)
        raise CliError(f"invalid task definition:{shown}")


def _parse(document: dict[str, Any]) -> tuple[Any, str | None]:
    """The task definition in an ECS JSON or ECSTaskDefinition document, checked as the API server
    checks it before anything else."""
    from pydantic import ValidationError

    from ecs_facade.model.taskdefinition import normalize_task_definition, parse_task_definition

    fields, name = _ecs_fields(document)
    _check(fields)
    family = _default_family(fields, name)
    try:
        return parse_task_definition(fields, family), name
    except ValidationError as error:
        request = normalize_task_definition(fields, family)
        problems = "; ".join(f"{_location(e['loc'], request)}: {e['msg']}" for e in error.errors(include_url=False))
        raise CliError(f"invalid task definition: {problems}") from error
    except ValueError as error:
        raise CliError(f"invalid task definition: {error}") from error


def _location(loc: Sequence[int | str], request: Any) -> str:
    """A pydantic error location as ECS names the field: ``containerDefinitions[web].cpu``, the
    container by its name (the list index is kept for other lists); pydantic's union tags dropped."""
    shown = ""
    node = request
    for part in loc:
        if isinstance(part, int):
            item = node[part] if isinstance(node, list) and 0 <= part < len(node) else None
            name = item.get("name") if isinstance(item, dict) else None
            named = shown.endswith("containerDefinitions") and isinstance(name, str) and name
            shown += f"[{name}]" if named else f"[{part}]"
            node = item
        elif isinstance(node, dict):
            shown += f".{part}" if shown else part
            node = node.get(part)
        else:
            break  # below a scalar: a union member's tag (str, int), not a field
    return shown


def kube_name(family: str) -> str:
    name = re.sub(r"[^a-z0-9-]+", "-", family.lower()).strip("-")[:253]
    return name or "task-definition"


def _convert(args: argparse.Namespace, out: TextIO) -> int:
    task_definition, name = _parse(_read_document(args.file))
    request = task_definition.model_dump(mode="json", exclude_none=True)
    manifest = {
        "apiVersion": API_VERSION,
        "kind": KIND_TASK_DEFINITION,
        "metadata": {"name": args.name or name or kube_name(task_definition.family)},
        "spec": request,
    }
    yaml.safe_dump(manifest, out, sort_keys=False)
    return 0


def _render(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from ecs_facade.translate import TranslationError
    from ecs_facade.translate.task import build_task_pod
    from ecs_facade.translate.taskdefinition import TranslationOptions
    from ecs_facade.translate.volumes import HostPathDisabled

    task_definition, _ = _parse(_read_document(args.file))
    options = TranslationOptions(
        pod_level_resources=args.pod_level_resources,
        allow_host_path=args.allow_host_path,
        container_restart_rules=args.container_restart_rules,
    )
    try:
        pod, translation = build_task_pod(task_definition, revision=None, namespace=args.namespace, options=options)
    except HostPathDisabled as error:
        raise CliError(f"cannot render: {error.enabled_by('the flag --allow-host-path')}") from error
    except TranslationError as error:
        raise CliError(f"cannot render: {error}") from error
    for line in translation.ignored:
        print(f"warning: ignored {line}", file=err)
    for line in translation.notes:
        print(f"warning: {line}", file=err)
    yaml.safe_dump_all([*translation.service_accounts, pod], out, sort_keys=False)
    return 0


def _run_task(args: argparse.Namespace, out: TextIO) -> int:
    """ECS RunTask: ``count`` ECSTask objects, and with ``--wait`` their exit codes."""
    import time

    from ecs_facade.api import TASKS
    from ecs_facade.kube import client as kube
    from ecs_facade.translate.run_task import RunTaskError, run_task_manifests

    request: dict[str, Any] = {
        "cluster": args.cluster,
        "taskDefinition": args.task_definition,
        "count": args.count,
        "overrides": _read_document(args.overrides) if args.overrides else None,
        "startedBy": args.started_by or None,
    }
    try:
        manifests = run_task_manifests(request, args.namespace)
    except RunTaskError as error:
        raise CliError(str(error)) from error
    names = []
    for manifest in manifests:
        created = kube.create(manifest, TASKS)
        if created is None:
            raise CliError("could not create the task")
        names.append(created["metadata"]["name"])
        print(f"started {args.namespace}/{created['metadata']['name']}", file=out)
    if not args.wait:
        return 0
    deadline = time.monotonic() + args.timeout
    results: dict[str, dict[str, Any]] = {}
    while len(results) < len(names):
        if time.monotonic() > deadline:
            raise CliError(f"timed out after {args.timeout}s; still running: {sorted(set(names) - set(results))}")
        for name in names:
            if name in results:
                continue
            status = (kube.get(API_VERSION, TASKS, args.namespace, name) or {}).get("status") or {}
            if status.get("lastStatus") == "STOPPED":
                results[name] = status
                print(
                    f"{name}: STOPPED exitCode={status.get('exitCode')} stopCode={status.get('stopCode')} "
                    f"reason={status.get('stoppedReason')!r}",
                    file=out,
                )
        time.sleep(1)
    failed = [
        n for n, s in results.items() if s.get("exitCode") != 0 or s.get("stopCode") != "EssentialContainerExited"
    ]
    return 1 if failed else 0


def _set_instance_state(args: argparse.Namespace, out: TextIO) -> int:
    """ECS UpdateContainerInstancesState: DRAINING moves service tasks off; ACTIVE takes tasks again."""
    from ecs_facade.kube import client as kube
    from ecs_facade.views.container_instance import instance_state_patch

    patch = instance_state_patch(args.state)
    for node in args.nodes:
        kube.patch_node(node, patch)
        print(f"{node}: {args.state}", file=out)
    return 0


def _attribute_labels(pairs: Sequence[str], delete: bool) -> dict[str, str | None]:
    from ecs_facade.translate import TranslationError
    from ecs_facade.translate.placement import attribute_labels

    try:
        named = [(name, value) for name, _, value in (pair.partition("=") for pair in pairs)]
        return attribute_labels(named, delete=delete)
    except TranslationError as error:
        raise CliError(str(error)) from error


def _put_attributes(args: argparse.Namespace, out: TextIO) -> int:
    """ECS PutAttributes/DeleteAttributes on a container instance: custom attributes are node labels."""
    from ecs_facade.kube import client as kube

    labels = _attribute_labels(args.attributes, delete=args.delete)
    kube.patch_node(args.node, {"metadata": {"labels": labels}})
    for key, value in labels.items():
        print(f"{args.node}: {key}={'(deleted)' if value is None else value}", file=out)
    return 0


def _describe_container_instances(args: argparse.Namespace, out: TextIO) -> int:
    """ECS DescribeContainerInstances (or ListContainerInstances) of one cluster, from the nodes."""
    from ecs_facade.config import Config
    from ecs_facade.kube import client as kube
    from ecs_facade.views.container_instance import cluster_of, describe_container_instance

    config = Config.from_env()  # the CLI's entry point: the ARNs' region and account
    instances = []
    for node in kube.list_nodes():
        name = node["metadata"]["name"]
        if cluster_of(node["metadata"].get("labels") or {}) != args.cluster or (args.nodes and name not in args.nodes):
            continue
        instance = describe_container_instance(
            node, kube.list_pods_on(name), region=config.region, account_id=config.account_id
        )
        if args.status and instance["status"] != args.status:
            continue
        instances.append(instance)
    if args.list:
        json.dump({"containerInstanceArns": [i["containerInstanceArn"] for i in instances]}, out, indent=2)
    else:
        json.dump({"containerInstances": instances, "failures": []}, out, indent=2)
    print(file=out)
    return 0


def _remove_finalizers(args: argparse.Namespace, out: TextIO) -> int:
    """The operator's finalizer off every ECS object: once the operator is gone for good
    (finalizers.py; charts/ecs-facade/README.md, "Uninstalling")."""
    from kubernetes.client.exceptions import ApiException

    from ecs_facade.finalizers import remove_finalizers
    from ecs_facade.kube import client as kube

    try:
        remove_finalizers(kube, dry_run=args.dry_run, say=lambda line: print(line, file=out))
    except ApiException as error:
        said = f": {_one_line(str(error.body))}" if error.body else ""
        raise CliError(f"the API server answered {error.status} {error.reason}{said}") from error
    except RuntimeError as error:
        raise CliError(str(error)) from error
    return 0


def _api(args: argparse.Namespace) -> int:
    """`ecs-facade api`: the ECS API on its own (docs/ecs-api.md); imported here so the
    other commands do not load aiohttp's server. The same application as `run --api`
    (ecsapi/serving.py), served by aiohttp's run_app until interrupted."""
    import logging

    from aiohttp import web

    from ecs_facade.config import Config
    from ecs_facade.ecsapi.serving import ApiConfigError, build_app

    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.INFO, format="%(asctime)s %(levelname)s %(message)s"
    )
    options = _api_options(args)
    try:
        # the actions, on the custom resources (ARNs: ECS_FACADE_REGION/_ACCOUNT_ID)
        app, context = build_app(options, Config.from_env().arns)
    except ApiConfigError as error:
        raise CliError(str(error)) from None
    web.run_app(app, host=options.host, port=options.port, ssl_context=context, print=None, access_log=None)
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
    run.add_argument("--standalone", action="store_true", help="no peering: for a single replica and local runs")
    run.add_argument("--peering", default=None, help="kopf peering object, for replicas with one active")
    run.add_argument("--liveness", default=None, help="liveness endpoint, e.g. http://0.0.0.0:8080/healthz")
    run.add_argument(
        "--leader-elect", action="store_true", help="run only while holding a Lease (replicas > 1: one is active)"
    )
    run.add_argument("--lease-name", default="ecs-facade", help="the leader election Lease")
    run.add_argument("--lease-namespace", default=None, help="its namespace (default: $POD_NAMESPACE)")
    run.add_argument("--metrics-port", type=int, default=None, help="serve Prometheus metrics on this port")
    from ecs_facade.ecsapi.options import add_arguments as add_api_arguments

    add_api_arguments(run, prefixed=True)
    run.add_argument("-v", "--verbose", action="store_true")
    run.add_argument("--debug", action="store_true")
    run.set_defaults(func=_run)

    convert = commands.add_parser(
        "convert",
        help="ECS task definition JSON (register input or describe output) -> ECSTaskDefinition YAML",
    )
    convert.add_argument("file", help="the JSON file, or - for standard input")
    convert.add_argument("--name", help="metadata.name (default: the family, made a valid Kubernetes name)")
    convert.set_defaults(func=lambda a: _convert(a, sys.stdout))

    render = commands.add_parser(
        "render", help="print the Pod one task of a task definition runs (offline); warnings on stderr"
    )
    render.add_argument("file", help="ECS JSON or ECSTaskDefinition YAML, or - for standard input")
    render.add_argument("-n", "--namespace", default=None, help="namespace to put in the Pod")
    render.add_argument(
        "--no-pod-level-resources",
        dest="pod_level_resources",
        action="store_false",
        help="split task-level cpu/memory over the containers (clusters before Kubernetes 1.34)",
    )
    render.add_argument(
        "--no-container-restart-rules",
        dest="container_restart_rules",
        action="store_false",
        help="non-essential containers as native sidecars, ECS restart policies ignored (clusters before 1.36)",
    )
    render.add_argument("--allow-host-path", action="store_true", help="allow host.sourcePath volumes")
    render.set_defaults(func=lambda a: _render(a, sys.stdout, sys.stderr))

    run_task = commands.add_parser("run-task", help="ECS RunTask: start tasks as ECSTask objects (kubeconfig)")
    run_task.add_argument("--task-definition", required=True, help="family, family:revision or ARN")
    run_task.add_argument("--cluster", default="default")
    run_task.add_argument("--count", type=int, default=1, help="1 to 10 tasks")
    run_task.add_argument("--overrides", help="a JSON file with RunTask overrides, or - for standard input")
    run_task.add_argument("--started-by", default=None)
    run_task.add_argument("-n", "--namespace", default="default")
    run_task.add_argument("--wait", action="store_true", help="wait until every task stopped; non-zero if one failed")
    run_task.add_argument("--timeout", type=int, default=600, help="seconds to wait with --wait")
    run_task.set_defaults(func=lambda a: _run_task(a, sys.stdout))

    for state, verb in (("DRAINING", "drain"), ("ACTIVE", "activate")):
        command = commands.add_parser(
            verb, help=f"ECS UpdateContainerInstancesState: set container instances (nodes) {state}"
        )
        command.add_argument("nodes", nargs="+", metavar="NODE")
        command.set_defaults(func=lambda a: _set_instance_state(a, sys.stdout), state=state)

    for verb, delete in (("put-attributes", False), ("delete-attributes", True)):
        command = commands.add_parser(
            verb, help=f"ECS {'DeleteAttributes' if delete else 'PutAttributes'}: custom attributes of a node"
        )
        command.add_argument("node", metavar="NODE")
        command.add_argument("attributes", nargs="+", metavar="NAME" if delete else "NAME=VALUE")
        command.set_defaults(func=lambda a: _put_attributes(a, sys.stdout), delete=delete)

    for verb, listing in (("describe-container-instances", False), ("list-container-instances", True)):
        command = commands.add_parser(verb, help=f"ECS {verb.title().replace('-', '')} of a cluster, from its nodes")
        command.add_argument("--cluster", default="default")
        command.add_argument("--status", choices=["ACTIVE", "DRAINING"], default=None)
        command.add_argument("nodes", nargs="*", metavar="NODE", help="only these nodes")
        command.set_defaults(func=lambda a: _describe_container_instances(a, sys.stdout), list=listing)
    api = commands.add_parser("api", help="serve the ECS API (AWS JSON 1.1) on its own (docs/ecs-api.md)")
    add_api_arguments(api, prefixed=False)
    api.add_argument("--debug", action="store_true")
    api.set_defaults(func=_api)
    remove = commands.add_parser(
        "remove-finalizers",
        help="take ecs-facade's finalizer off every ECS object: only once the operator is gone (uninstalling)",
    )
    remove.add_argument("--dry-run", action="store_true", help="only list the objects that have it")
    remove.set_defaults(func=lambda a: _remove_finalizers(a, sys.stdout))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        result: int = args.func(args)
    except CliError as error:
        print(f"ecs-facade {args.command}: {error}", file=sys.stderr)
        return 1
    return result


if __name__ == "__main__":
    sys.exit(main())
