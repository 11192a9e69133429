"""SigV4 verification against botocore's own signer, and the keys Secret format."""

import base64
import datetime as dt
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from botocore.auth import SigV4Auth  # type: ignore[import-untyped]
from botocore.awsrequest import AWSRequest  # type: ignore[import-untyped]
from botocore.credentials import Credentials  # type: ignore[import-untyped]

from ecs_facade.ecsapi.errors import ApiError
from ecs_facade.ecsapi.sigv4 import (
    AccessKey,
    Authenticator,
    DictKeyStore,
    DirectoryKeyStore,
    KeyFormatError,
    keys_from_secret_data,
    parse_key,
    verify,
)

KEY_ID = "AKIAIOSFODNN7EXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
KEYS = DictKeyStore([AccessKey(KEY_ID, SECRET, frozenset({"team-a"}))])
BODY = b'{"cluster": "prod", "services": ["web"]}'
TARGET = "AmazonEC2ContainerServiceV20141113.DescribeServices"


def signed(
    body: bytes = BODY,
    secret: str = SECRET,
    key_id: str = KEY_ID,
    region: str = "us-east-1",
    service: str = "ecs",
    url: str = "http://127.0.0.1:8088/",
    token: str | None = None,
) -> tuple[dict[str, list[str]], dt.datetime]:
    """A request as botocore signs it: its headers (lower-case names) and its signing time."""
    request = AWSRequest(
        method="POST",
        url=url,
        data=body,
        headers={"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": TARGET},
    )
    SigV4Auth(Credentials(key_id, secret, token), service, region).add_auth(request)
    prepared = request.prepare()
    headers: dict[str, list[str]] = {}
    for name, value in prepared.headers.items():
        headers.setdefault(name.lower(), []).append(value.decode() if isinstance(value, bytes) else value)
    headers.setdefault("host", ["127.0.0.1:8088"])
    at = dt.datetime.strptime(headers["x-amz-date"][0], "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
    return headers, at


def check(headers: Mapping[str, list[str]], now: dt.datetime, body: bytes = BODY, **kw: Any) -> tuple[AccessKey, str]:
    args: dict[str, Any] = {
        "method": "POST",
        "raw_path": "/",
        "raw_query": "",
        "headers": headers,
        "body": body,
        "service": "ecs",
        "keys": KEYS,
        "now": now,
    }
    return verify(**(args | kw))


def refused(headers: Mapping[str, list[str]], now: dt.datetime, body: bytes = BODY, **kw: Any) -> tuple[str, str]:
    with pytest.raises(ApiError) as failure:
        check(headers, now, body, **kw)
    return failure.value.name, failure.value.message


def test_a_botocore_signed_request_verifies() -> None:
    headers, at = signed()
    key, region = check(headers, at)
    assert (key.access_key_id, region) == (KEY_ID, "us-east-1")
    assert check(headers, at + dt.timedelta(minutes=14))[0] is key  # within the 15 minutes
    headers, at = signed(region="eu-west-3", service="application-autoscaling", body=b"")
    assert check(headers, at, body=b"", service="application-autoscaling")[1] == "eu-west-3"


def test_any_change_to_the_signed_request_fails() -> None:
    headers, at = signed()
    mismatch = ("InvalidSignatureException", refused(headers, at, body=BODY + b" ")[1])
    assert mismatch[1].startswith("The request signature we calculated does not match")
    assert refused(headers, at, body=BODY.replace(b"web", b"wed")) == mismatch
    for name, value in [("x-amz-target", "AmazonEC2ContainerServiceV20141113.DeleteService"), ("host", "evil:80")]:
        assert refused({**headers, name: [value]}, at) == mismatch
    assert refused(headers, at, raw_path="/other") == mismatch
    assert refused(headers, at, raw_query="a=b") == mismatch
    wrong_secret, at2 = signed(secret=SECRET[:-1] + "X")
    assert refused(wrong_secret, at2) == mismatch
    later = {**headers, "x-amz-date": [(at + dt.timedelta(seconds=1)).strftime("%Y%m%dT%H%M%SZ")]}
    assert refused(later, at) == mismatch


def test_an_unsigned_header_may_change() -> None:
    headers, at = signed()
    check({**headers, "user-agent": ["something else"]}, at)


def test_expired_and_future_signatures_name_the_times() -> None:
    headers, at = signed()
    name, message = refused(headers, at + dt.timedelta(minutes=15, seconds=1))
    assert name == "InvalidSignatureException"
    assert message.startswith(f"Signature expired: {at:%Y%m%dT%H%M%SZ} is now earlier than ")
    name, message = refused(headers, at - dt.timedelta(minutes=16))
    assert (name, message.split(":")[0]) == ("InvalidSignatureException", "Signature not yet current")


def test_unknown_key_and_session_tokens_are_unrecognized() -> None:
    headers, at = signed(key_id="AKIAUNKNOWNKEY000000")
    assert refused(headers, at) == (
        "UnrecognizedClientException",
        "The security token included in the request is invalid.",
    )
    headers, at = signed(token="FQoGZXIvYXdzE")
    assert refused(headers, at)[0] == "UnrecognizedClientException"


def test_scope_service_and_region_must_match() -> None:
    headers, at = signed(service="application-autoscaling")
    assert refused(headers, at) == (
        "InvalidSignatureException",
        "Credential should be scoped to correct service: 'ecs'.",
    )
    headers, at = signed(region="eu-west-1")
    assert refused(headers, at, regions=frozenset({"us-east-1"})) == (
        "InvalidSignatureException",
        "Credential should be scoped to a valid region, not 'eu-west-1'.",
    )
    assert check(headers, at, regions=frozenset({"us-east-1", "eu-west-1"}))[1] == "eu-west-1"


def test_missing_and_malformed_authorization() -> None:
    headers, at = signed()
    unsigned = {k: v for k, v in headers.items() if k != "authorization"}
    with pytest.raises(ApiError) as failure:
        check(unsigned, at)
    assert (failure.value.name, failure.value.status) == ("MissingAuthenticationTokenException", 403)
    auth = headers["authorization"][0]
    assert refused({**headers, "authorization": ["AWS AKIA:abc"]}, at)[0] == "IncompleteSignatureException"
    no_signature = auth.split(", Signature=")[0]
    assert refused({**headers, "authorization": [no_signature]}, at) == (
        "IncompleteSignatureException",
        "Authorization header requires 'Signature' parameter.",
    )
    no_host = auth.replace("SignedHeaders=content-type;host;", "SignedHeaders=content-type;")
    assert "host" not in no_host.split("SignedHeaders=")[1].split(",")[0]
    assert refused({**headers, "authorization": [no_host]}, at)[1] == (
        "'Host' must be a 'SignedHeader' in the AWS Authorization."
    )
    bad_date = {**headers, "x-amz-date": ["yesterday"]}
    assert refused(bad_date, at)[0] == "IncompleteSignatureException"
    other_day = auth.replace(f"/{at:%Y%m%d}/", "/20000101/")
    assert refused({**headers, "authorization": [other_day]}, at)[1].startswith("Date in Credential scope")


# --- the keys Secret ---------------------------------------------------------------


def entry(**fields: Any) -> str:
    return json.dumps({"secretAccessKey": SECRET, "namespaces": ["team-a"], **fields})


def test_parse_key_reads_the_documented_format() -> None:
    key = parse_key(KEY_ID, entry(namespaces=["team-a", "team-b"]))
    assert key == AccessKey(KEY_ID, SECRET, frozenset({"team-a", "team-b"}), "team-a")
    assert parse_key(KEY_ID, entry(namespaces=["team-b", "team-a"])).home_namespace == "team-b"
    assert key.allows("team-b") and not key.allows("team-c")
    assert parse_key(KEY_ID, entry(namespaces=["*"])).allows("anything")


@pytest.mark.parametrize(
    ("key_id", "text", "message"),
    [
        ("short", entry(), "an access key id is 16 to 128 letters and digits"),
        (KEY_ID, "{", "the value is not JSON"),
        (KEY_ID, "[]", "the value is not a JSON object"),
        (KEY_ID, entry(secretAccessKey=""), f"access key '{KEY_ID}'.secretAccessKey: missing or empty"),
        (KEY_ID, entry(namespaces=[]), "namespaces: expected a non-empty list"),
        (KEY_ID, entry(namespaces="team-a"), "namespaces: expected a non-empty list"),
        (KEY_ID, entry(namespace=["x"]), "unknown field namespace"),
    ],
)
def test_parse_key_errors_name_the_key_and_field(key_id: str, text: str, message: str) -> None:
    with pytest.raises(KeyFormatError, match=None) as failure:
        parse_key(key_id, text)
    assert message in str(failure.value)


def test_keys_from_secret_data_decodes_base64() -> None:
    data = {KEY_ID: base64.b64encode(entry().encode()).decode()}
    assert keys_from_secret_data(data)[KEY_ID].secret_access_key == SECRET
    with pytest.raises(KeyFormatError, match="not base64"):
        keys_from_secret_data({KEY_ID: "%%%"})


def test_directory_key_store_reads_a_mounted_secret_and_its_updates(tmp_path: Path) -> None:
    (tmp_path / KEY_ID).write_text(entry())
    (tmp_path / "..data").mkdir()  # the kubelet's bookkeeping: skipped
    (tmp_path / "AKIABADENTRY00000000").write_text("not json")  # logged and refused, others still work
    store = DirectoryKeyStore(tmp_path, interval=0)
    key = store.lookup(KEY_ID)
    assert key is not None and key.namespaces == frozenset({"team-a"})
    assert store.lookup("AKIABADENTRY00000000") is None
    other = "AKIAOTHERKEY00000000"
    (tmp_path / other).write_text(entry(namespaces=["team-b"]))
    (tmp_path / KEY_ID).unlink()
    assert store.lookup(KEY_ID) is None
    new = store.lookup(other)
    assert new is not None and new.allows("team-b")
    with pytest.raises(KeyFormatError, match="no such directory"):
        DirectoryKeyStore(tmp_path / "missing")


def test_authenticator_needs_keys_unless_anonymous() -> None:
    with pytest.raises(ValueError, match="needs access keys"):
        Authenticator(None)
    anonymous = Authenticator(None, anonymous=True, default_region="eu-west-1")
    identity = anonymous.authenticate(method="POST", raw_path="/", raw_query="", headers={}, body=b"", service="ecs")
    assert (identity.access_key_id, identity.namespaces, identity.region, identity.anonymous) == (
        None,
        None,
        "eu-west-1",
        True,
    )
    headers, _ = signed(region="ap-south-1", secret="wrong")  # not checked; its scope names the region
    identity = anonymous.authenticate(
        method="POST", raw_path="/", raw_query="", headers=headers, body=b"", service="ecs"
    )
    assert (identity.access_key_id, identity.region) == (KEY_ID, "ap-south-1")


def test_authenticator_checks_with_its_clock_and_regions() -> None:
    headers, at = signed()
    auth = Authenticator(KEYS, regions=frozenset({"us-east-1"}), clock=lambda: at + dt.timedelta(minutes=1))
    args: dict[str, Any] = {"method": "POST", "raw_path": "/", "raw_query": "", "body": BODY, "service": "ecs"}
    identity = auth.authenticate(headers=headers, **args)
    assert (identity.access_key_id, identity.namespaces, identity.anonymous) == (KEY_ID, frozenset({"team-a"}), False)
    auth.clock = lambda: at + dt.timedelta(hours=1)
    with pytest.raises(ApiError, match="Signature expired"):
        auth.authenticate(headers=headers, **args)
