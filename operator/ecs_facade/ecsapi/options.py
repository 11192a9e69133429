"""The ECS API's serving options: flags, their environment variables, their checks. Apart
from serving.py so that the CLI's parser does not load aiohttp.

A flag given wins over its ``ECS_FACADE_API_*`` variable; a variable set wins over the default
(loopback, no TLS, anonymous mode off). Read once at start-up; a wrong value stops it with the
flag's or variable's name and what it expects (docs/ecs-api.md, "Serving the API").
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

DEFAULT_HOST = "127.0.0.1"  # loopback unless asked: the API creates workloads
DEFAULT_PORT = 8088
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}


class ApiConfigError(ValueError):
    """A flag or environment variable of the API that is wrong: the message names it."""


@dataclass(frozen=True)
class ApiOptions:
    """How the API is served (docs/ecs-api.md, "Serving the API")."""

    enabled: bool = False  # `run` only: `ecs-facade api` always serves
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    keys_dir: str | None = None
    anonymous: bool = False
    regions: tuple[str, ...] = ()
    tls_cert: str | None = None
    tls_key: str | None = None

    # flag (argparse dest) -> environment variable
    ENV: ClassVar[dict[str, str]] = {
        "api": "ECS_FACADE_API_ENABLED",
        "api_host": "ECS_FACADE_API_HOST",
        "api_port": "ECS_FACADE_API_PORT",
        "api_keys_dir": "ECS_FACADE_API_KEYS_DIR",
        "api_anonymous": "ECS_FACADE_API_ANONYMOUS",
        "api_region": "ECS_FACADE_API_REGIONS",
        "api_tls_cert": "ECS_FACADE_API_TLS_CERT",
        "api_tls_key": "ECS_FACADE_API_TLS_KEY",
    }

    @classmethod
    def from_flags(
        cls, flags: Mapping[str, Any], env: Mapping[str, str], flag_prefix: str = "--api-", always: bool = False
    ) -> ApiOptions:
        """A flag given wins over its variable; a variable set wins over the default. Wrong
        values raise ApiConfigError naming the flag or variable and what it expects. Unless
        ``always`` (`ecs-facade api`, which always serves), the API is off unless enabled, and
        then nothing else is read."""

        def flag(dest: str) -> str:
            return "--api" if dest == "api" else flag_prefix + dest.removeprefix("api_").replace("_", "-")

        def pick(dest: str) -> tuple[Any, str]:
            value = flags.get(dest)
            if value is not None:
                return value, flag(dest)
            name = cls.ENV[dest]
            return env.get(name), name

        enabled, where = pick("api")
        if not always and not _flag(where, enabled, cls.enabled):
            return cls()  # `run` without the API: nothing else of it is read or checked
        anonymous, anonymous_where = pick("api_anonymous")
        port, port_where = pick("api_port")
        regions, _ = pick("api_region")
        if isinstance(regions, str):
            regions = [r.strip() for r in regions.split(",") if r.strip()]
        options = cls(
            enabled=_flag(where, enabled, cls.enabled),
            host=str(pick("api_host")[0] or DEFAULT_HOST),
            port=_port(port_where, port),
            keys_dir=pick("api_keys_dir")[0] or None,
            anonymous=_flag(anonymous_where, anonymous, cls.anonymous),
            regions=tuple(regions or ()),
            tls_cert=pick("api_tls_cert")[0] or None,
            tls_key=pick("api_tls_key")[0] or None,
        )
        if bool(options.tls_cert) != bool(options.tls_key):
            raise ApiConfigError(
                f"{flag('api_tls_cert')} and {flag('api_tls_key')}: give both (the certificate and its key) or neither"
            )
        if not options.anonymous and not options.keys_dir:
            raise ApiConfigError(
                f"{flag('api_keys_dir')} (the API keys Secret, mounted) is required unless {flag('api_anonymous')}"
                " (or ECS_FACADE_API_KEYS_DIR, ECS_FACADE_API_ANONYMOUS)"
            )
        return options

    @property
    def scheme(self) -> str:
        return "https" if self.tls_cert else "http"

    def loopback(self) -> bool:
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False


def _flag(where: str, value: Any, default: bool) -> bool:
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ApiConfigError(f"{where}={value!r}: expected true or false")


def _port(where: str, value: Any) -> int:
    if value is None or value == "":
        return DEFAULT_PORT
    try:
        port = int(value)
    except (TypeError, ValueError):
        port = -1
    if not 0 <= port <= 65535:
        raise ApiConfigError(f"{where}={value!r}: expected a port number, 1 to 65535 (0: any free port)")
    return port


def add_arguments(parser: Any, *, prefixed: bool) -> None:
    """The API's flags: on `run` all are `--api-*` (and `--api` turns it on); on `api` the
    short forms (`--host`, `--port`, ...) and the `--api-*` ones alike. Defaults are None:
    ``ApiOptions.from_flags`` fills them from the environment, then the defaults."""
    import argparse

    def names(short: str) -> Sequence[str]:
        return (f"--api-{short}",) if prefixed else (f"--{short}", f"--api-{short}")

    if prefixed:
        parser.add_argument(
            "--api",
            action=argparse.BooleanOptionalAction,
            default=None,
            help="serve the ECS API in the operator's process (docs/ecs-api.md; default off; $ECS_FACADE_API_ENABLED)",
        )
    parser.add_argument(
        *names("host"),
        dest="api_host",
        default=None,
        help=f"address the ECS API listens on (default {DEFAULT_HOST}, loopback only; $ECS_FACADE_API_HOST)",
    )
    parser.add_argument(
        *names("port"), dest="api_port", type=int, default=None, help=f"its port (default {DEFAULT_PORT})"
    )
    parser.add_argument(
        *names("keys-dir"),
        dest="api_keys_dir",
        default=None,
        help="the API keys Secret, mounted: one file per access key id (required unless anonymous)",
    )
    parser.add_argument(
        *names("region"),
        dest="api_region",
        action="append",
        default=None,
        help="a region requests may be signed for (repeatable; default: any)",
    )
    parser.add_argument(
        *names("tls-cert"),
        dest="api_tls_cert",
        default=None,
        help="serve HTTPS with this PEM certificate chain (e.g. tls.crt of a mounted kubernetes.io/tls Secret)",
    )
    parser.add_argument(*names("tls-key"), dest="api_tls_key", default=None, help="and this PEM private key (tls.key)")
    parser.add_argument(
        *names("anonymous"),
        dest="api_anonymous",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="accept unsigned requests, every namespace: local use only (default off)",
    )
