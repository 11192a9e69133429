"""AWS Signature Version 4 verification, and the access keys it checks against.

The verifier is pure: the request's method, raw path and query, headers and body, the time
now and a key store in, the authenticated key (or an ApiError with AWS's names) out. It
recomputes the signature the way the SDKs make it (canonical request, string to sign, HMAC
chain) from the body actually received, so a changed body, header, date or scope fails, and
compares in constant time. As at AWS, a signed request stays valid for 15 minutes either side
of its X-Amz-Date; within them it can be replayed (AWS does not refuse replays either: SDK
requests are not idempotent by signature, and two identical calls in one second sign alike).

Keys live in a Kubernetes Secret (docs/ecs-api.md): each data key is an access key id, each
value JSON `{"secretAccessKey": "...", "namespaces": ["team-a", ...]}` ("*" = every namespace).
DirectoryKeyStore reads the Secret mounted as a volume, and rereads it when it changes.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import functools
import hashlib
import hmac
import json
import logging
import os
import posixpath
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import parse_qsl, quote

from .errors import ApiError

log = logging.getLogger(__name__)

ALGORITHM = "AWS4-HMAC-SHA256"
MAX_SKEW = dt.timedelta(minutes=15)
AMZ_DATE = "%Y%m%dT%H%M%SZ"
ACCESS_KEY_ID = re.compile(r"^[A-Za-z0-9]{16,128}$")  # IAM's length; valid as a Secret data key
ALL_NAMESPACES = "*"

SIGNATURE_MISMATCH = (
    "The request signature we calculated does not match the signature you provided."
    " Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
)


@dataclass(frozen=True)
class AccessKey:
    """One API key: its secret, and the namespaces its requests may act in."""

    access_key_id: str
    secret_access_key: str
    namespaces: frozenset[str]
    # the first namespace the key lists: where a request signed for an AWS region acts (ecsapi/scope.py)
    home_namespace: str | None = None

    def allows(self, namespace: str) -> bool:
        return ALL_NAMESPACES in self.namespaces or namespace in self.namespaces


class KeyStore(Protocol):
    def lookup(self, access_key_id: str) -> AccessKey | None: ...


class DictKeyStore:
    """Keys held in memory: tests, and what the Secret readers build."""

    def __init__(self, keys: Mapping[str, AccessKey] | Sequence[AccessKey] = ()) -> None:
        values = keys.values() if isinstance(keys, Mapping) else keys
        self.keys = {key.access_key_id: key for key in values}

    def lookup(self, access_key_id: str) -> AccessKey | None:
        return self.keys.get(access_key_id)


class KeyFormatError(ValueError):
    pass


def parse_key(access_key_id: str, text: str | bytes) -> AccessKey:
    """One Secret entry: data key `access_key_id`, value the JSON document; errors name the key."""
    where = f"access key {access_key_id!r}"
    if not ACCESS_KEY_ID.match(access_key_id):
        raise KeyFormatError(f"{where}: an access key id is 16 to 128 letters and digits")
    try:
        entry = json.loads(text)
    except (ValueError, UnicodeDecodeError) as error:
        raise KeyFormatError(f"{where}: the value is not JSON ({error}); expected an object") from None
    if not isinstance(entry, dict):
        raise KeyFormatError(f"{where}: the value is not a JSON object")
    secret = entry.get("secretAccessKey")
    if not isinstance(secret, str) or not secret:
        raise KeyFormatError(f"{where}.secretAccessKey: missing or empty, expected the secret access key")
    namespaces = entry.get("namespaces")
    if not isinstance(namespaces, list) or not namespaces or not all(isinstance(n, str) and n for n in namespaces):
        raise KeyFormatError(f'{where}.namespaces: expected a non-empty list of namespace names, or ["*"]')
    unknown = sorted(set(entry) - {"secretAccessKey", "namespaces"})
    if unknown:
        raise KeyFormatError(f"{where}: unknown field {', '.join(unknown)}; expected secretAccessKey, namespaces")
    return AccessKey(access_key_id, secret, frozenset(namespaces), namespaces[0])


def keys_from_secret_data(data: Mapping[str, str]) -> dict[str, AccessKey]:
    """A Secret's `.data` (base64 values, as the Kubernetes API returns it) -> the keys in it."""
    keys = {}
    for name, encoded in data.items():
        try:
            raw = base64.b64decode(encoded, validate=True)
        except binascii.Error:
            raise KeyFormatError(f"access key {name!r}: the Secret value is not base64") from None
        keys[name] = parse_key(name, raw)
    return keys


class DirectoryKeyStore:
    """The keys Secret mounted as a volume: one file per access key id.

    The kubelet updates a mounted Secret in place (an atomic `..data` symlink swap), so the
    store rereads the directory when its listing or a file's mtime changed, at most every
    `interval` seconds; a bad entry is logged and skipped rather than taking the API down.
    """

    def __init__(self, path: str | os.PathLike[str], interval: float = 5.0) -> None:
        self.path = Path(path)
        if not self.path.is_dir():
            raise KeyFormatError(f"{self.path}: no such directory (the API keys Secret, mounted)")
        self.interval = interval
        self._checked = -float("inf")
        self._stamp: tuple[tuple[str, int], ...] = ()
        self._keys: dict[str, AccessKey] = {}
        self._reload()

    def _files(self) -> list[Path]:
        return sorted(p for p in self.path.iterdir() if not p.name.startswith(".") and p.is_file())

    def _reload(self) -> None:
        files = self._files()
        stamp = tuple((p.name, p.stat().st_mtime_ns) for p in files)
        if stamp == self._stamp and self._keys:
            return
        keys = {}
        for file in files:
            try:
                keys[file.name] = parse_key(file.name, file.read_bytes())
            except KeyFormatError as error:
                log.error("API keys %s: %s; this key is refused", self.path, error)
        self._keys, self._stamp = keys, stamp
        log.info("API keys %s: %d access keys", self.path, len(keys))

    def lookup(self, access_key_id: str) -> AccessKey | None:
        now = time.monotonic()
        if now - self._checked >= self.interval:
            self._checked = now
            try:
                self._reload()
            except OSError as error:  # mid-swap or unmounted: keep the keys we have
                log.warning("API keys %s: cannot reread (%s); keeping the last keys", self.path, error)
        return self._keys.get(access_key_id)


# --- verification -----------------------------------------------------------------------


@dataclass(frozen=True)
class Authorization:
    access_key_id: str
    date: str
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str


def parse_authorization(header: str) -> Authorization:
    """The parts of `AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...`."""
    algorithm, _, rest = header.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise ApiError("IncompleteSignatureException", f"Unsupported AWS 'algorithm': '{algorithm}'.")
    fields: dict[str, str] = {}
    for part in rest.split(","):
        name, sep, value = part.strip().partition("=")
        if sep:
            fields[name] = value
    missing = [name for name in ("Credential", "SignedHeaders", "Signature") if name not in fields]
    if missing:
        raise ApiError(
            "IncompleteSignatureException",
            " ".join(f"Authorization header requires '{name}' parameter." for name in missing),
        )
    scope = fields["Credential"].split("/")
    if len(scope) != 5 or scope[4] != "aws4_request" or not all(scope):
        raise ApiError(
            "IncompleteSignatureException",
            "Credential should be '<access key>/<date>/<region>/<service>/aws4_request',"
            f" not '{fields['Credential']}'.",
        )
    signed = tuple(fields["SignedHeaders"].split(";"))
    return Authorization(scope[0], scope[1], scope[2], scope[3], signed, fields["Signature"])


def canonical_uri(raw_path: str) -> str:
    """The path as the SDKs sign it for services other than S3: the path as sent (already
    percent-encoded), normalized, then encoded again."""
    path = raw_path or "/"
    normalized = posixpath.normpath(path)
    if path.endswith("/") and normalized != "/":
        normalized += "/"
    return quote(normalized, safe="/~")


def canonical_query(raw_query: str) -> str:
    pairs = parse_qsl(raw_query, keep_blank_values=True)
    encoded = sorted((quote(k, safe="-_.~"), quote(v, safe="-_.~")) for k, v in pairs)
    return "&".join(f"{k}={v}" for k, v in encoded)


def _header_value(values: Sequence[str]) -> str:
    return ",".join(" ".join(v.split()) for v in values)


def canonical_request(
    method: str,
    raw_path: str,
    raw_query: str,
    headers: Mapping[str, Sequence[str]],
    signed_headers: Sequence[str],
    body: bytes,
) -> str:
    """SigV4's canonical request; `headers` maps lower-case names to every value received."""
    lines = [f"{name}:{_header_value(headers.get(name, ()))}\n" for name in signed_headers]
    return "\n".join(
        [
            method,
            canonical_uri(raw_path),
            canonical_query(raw_query),
            "".join(lines),
            ";".join(signed_headers),
            hashlib.sha256(body).hexdigest(),
        ]
    )


@functools.lru_cache(maxsize=256)
def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    key = hmac.new(f"AWS4{secret}".encode(), date.encode(), hashlib.sha256).digest()
    for part in (region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def _parse_amz_date(value: str) -> dt.datetime:
    try:
        return dt.datetime.strptime(value, AMZ_DATE).replace(tzinfo=dt.UTC)
    except ValueError:
        message = f"X-Amz-Date '{value}' is not in the form 20150830T123600Z."
        raise ApiError("IncompleteSignatureException", message) from None


def verify(
    *,
    method: str,
    raw_path: str,
    raw_query: str,
    headers: Mapping[str, Sequence[str]],
    body: bytes,
    service: str,
    keys: KeyStore,
    now: dt.datetime,
    regions: frozenset[str] | None = None,
) -> tuple[AccessKey, str]:
    """The key that signed the request and the region it signed for, or an ApiError as AWS names it.

    `headers`: lower-case names -> every value received. `service`: the signing name the
    request's X-Amz-Target belongs to (ecs, application-autoscaling). `regions`: the regions
    this server answers for; None: any.
    """
    header = _header_value(headers.get("authorization", ()))
    if not header:
        raise ApiError("MissingAuthenticationTokenException", "Missing Authentication Token", 403)
    auth = parse_authorization(header)
    if "host" not in auth.signed_headers:
        raise ApiError("InvalidSignatureException", "'Host' must be a 'SignedHeader' in the AWS Authorization.")
    if "x-amz-date" not in auth.signed_headers:
        raise ApiError("InvalidSignatureException", "'X-Amz-Date' must be a 'SignedHeader' in the AWS Authorization.")
    if "x-amz-target" in headers and "x-amz-target" not in auth.signed_headers:
        # the target picks the action: unsigned, a signed body could be replayed as another action
        raise ApiError("InvalidSignatureException", "'X-Amz-Target' must be a 'SignedHeader' in the AWS Authorization.")
    if list(auth.signed_headers) != sorted(set(auth.signed_headers)) or any(
        name != name.lower() for name in auth.signed_headers
    ):
        raise ApiError("InvalidSignatureException", "SignedHeaders must be lower-case, sorted and unique.")
    amz_date = _header_value(headers.get("x-amz-date", ()))
    if not amz_date:
        raise ApiError(
            "IncompleteSignatureException", "Authorization header requires existence of a 'X-Amz-Date' header."
        )
    signed_at = _parse_amz_date(amz_date)
    if auth.date != amz_date[:8]:
        raise ApiError(
            "InvalidSignatureException",
            f"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
            f"'{auth.date}' != '{amz_date[:8]}', from '{amz_date}'.",
        )
    if auth.service != service:
        raise ApiError("InvalidSignatureException", f"Credential should be scoped to correct service: '{service}'.")
    if regions is not None and auth.region not in regions:
        raise ApiError(
            "InvalidSignatureException", f"Credential should be scoped to a valid region, not '{auth.region}'."
        )
    if "x-amz-security-token" in headers:  # session credentials: this server has long-term keys only
        raise ApiError("UnrecognizedClientException", "The security token included in the request is invalid.")
    key = keys.lookup(auth.access_key_id)
    if key is None:
        raise ApiError("UnrecognizedClientException", "The security token included in the request is invalid.")
    if now - signed_at > MAX_SKEW:
        raise ApiError(
            "InvalidSignatureException",
            f"Signature expired: {amz_date} is now earlier than {(now - MAX_SKEW).strftime(AMZ_DATE)}"
            f" ({now.strftime(AMZ_DATE)} - 15 min.)",
        )
    if signed_at - now > MAX_SKEW:
        raise ApiError(
            "InvalidSignatureException",
            f"Signature not yet current: {amz_date} is still later than {(now + MAX_SKEW).strftime(AMZ_DATE)}"
            f" ({now.strftime(AMZ_DATE)} + 15 min.)",
        )
    request = canonical_request(method, raw_path, raw_query, headers, auth.signed_headers, body)
    scope = f"{auth.date}/{auth.region}/{auth.service}/aws4_request"
    to_sign = "\n".join([ALGORITHM, amz_date, scope, hashlib.sha256(request.encode()).hexdigest()])
    expected = hmac.new(
        signing_key(key.secret_access_key, auth.date, auth.region, auth.service), to_sign.encode(), hashlib.sha256
    ).hexdigest()
    if not hmac.compare_digest(expected.encode(), auth.signature.encode()):
        # what AWS puts in its answer, for whoever debugs a client's signer (--debug), not for the client
        log.debug(
            "signature mismatch for %s: canonical request:\n%s\nstring to sign:\n%s",
            key.access_key_id,
            request,
            to_sign,
        )
        raise ApiError("InvalidSignatureException", SIGNATURE_MISMATCH)
    return key, auth.region


@dataclass(frozen=True)
class Identity:
    """Who a request is: the verified key's id and namespaces (None: any, anonymous mode), its region."""

    access_key_id: str | None
    namespaces: frozenset[str] | None
    region: str
    anonymous: bool = False
    home_namespace: str | None = None


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class Authenticator:
    """Signature checks with the server's settings. Anonymous mode accepts every request
    (for local use only: `ecs-facade api --anonymous` logs it loudly) with every namespace."""

    keys: KeyStore | None
    anonymous: bool = False
    regions: frozenset[str] | None = None
    default_region: str = "us-east-1"
    clock: Callable[[], dt.datetime] = _utcnow

    def __post_init__(self) -> None:
        if self.keys is None and not self.anonymous:
            raise ValueError("the API needs access keys (a keys Secret) unless it runs in anonymous mode")

    def authenticate(
        self,
        *,
        method: str,
        raw_path: str,
        raw_query: str,
        headers: Mapping[str, Sequence[str]],
        body: bytes,
        service: str,
    ) -> Identity:
        if self.anonymous:
            region, key_id = self.default_region, None
            header = _header_value(headers.get("authorization", ()))
            if header:
                try:  # unverified: for the logs and the region ARNs name
                    auth = parse_authorization(header)
                    region, key_id = auth.region, auth.access_key_id
                except ApiError:
                    pass
            return Identity(key_id, None, region, anonymous=True)
        assert self.keys is not None
        key, region = verify(
            method=method,
            raw_path=raw_path,
            raw_query=raw_query,
            headers=headers,
            body=body,
            service=service,
            keys=self.keys,
            now=self.clock(),
            regions=self.regions,
        )
        return Identity(key.access_key_id, key.namespaces, region, home_namespace=key.home_namespace)
