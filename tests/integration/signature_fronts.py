"""Loopback "verifying fronts": small HTTP servers that check presigned-URL signatures like the real clouds.

moto and the GCS emulator accept any signature, so a test that only PUTs to them proves nothing about the
URLs we sign. A front sits between the uploader (the Runware emulator, or a test) and the store. For every
request that carries a query signature it rebuilds the canonical request and string-to-sign from what it
actually received (method, raw path, query, headers) and checks the signature, the expiry window and the
algorithm; any mismatch is answered 403 and never reaches the store. A PUT without any signature is
refused too. Everything else (the SDK clients' own header-authenticated or anonymous API calls used for
verification) is forwarded untouched, because the stores do not check those either.

The checks are written from the published specifications, independently of botocore and
google-cloud-storage:

* S3 query-string SigV4 (``AWS4-HMAC-SHA256``): HMAC chain over date/region/service/``aws4_request``.
* GCS V4 (``GOOG4-RSA-SHA256``): RSA PKCS#1 v1.5 / SHA-256 signature, verified with the public key of the
  service account named in ``X-Goog-Credential``.

Every request is recorded (method, path, signature, verdict) so tests can assert *why* something was
refused, and that a refused URL's signature never leaks into logs or XCom.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, Protocol
from urllib.parse import quote, unquote, urlsplit

import httpx
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

MAX_EXPIRES = 7 * 24 * 3600
# Both clouds refuse a request dated too far in the future (clock skew allowance).
FUTURE_SKEW = timedelta(minutes=15)
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
# The key pair the S3 front knows; tests/integration/conftest.py's aws_conn uses the same values.
S3_FRONT_ACCESS_KEY = "testing"
S3_FRONT_SECRET_KEY = "testing"
S3_FRONT_REGION = "us-east-1"
# Hop-by-hop headers (RFC 9110 7.6.1) plus those the front recomputes itself.
_NOT_FORWARDED = frozenset(
    {"host", "connection", "keep-alive", "transfer-encoding", "content-length", "te", "upgrade", "trailer"}
)


# -- shared parsing helpers ---------------------------------------------------------------------------


def query_pairs(raw_query: str) -> list[tuple[str, str]]:
    """Decode a raw query exactly: ``%XX`` only (a literal ``+`` stays ``+``, as S3 and GCS read it)."""
    pairs = []
    for part in raw_query.split("&"):
        if part:
            name, _, value = part.partition("=")
            pairs.append((unquote(name), unquote(value)))
    return pairs


def _encode(value: str) -> str:
    """RFC 3986 encoding of a query name or value: everything but ``A-Za-z0-9-_.~``."""
    return quote(value, safe="-_.~")


def canonical_query(pairs: list[tuple[str, str]], signature_param: str) -> str:
    """Encoded ``name=value`` pairs sorted by name then value, without the signature itself."""
    encoded = sorted((_encode(name), _encode(value)) for name, value in pairs if name != signature_param)
    return "&".join(f"{name}={value}" for name, value in encoded)


def canonical_headers(signed_headers: str, headers: Mapping[str, str]) -> tuple[str, str | None]:
    """``name:value\\n`` for each signed header (trimmed, inner whitespace collapsed), or a problem."""
    names = signed_headers.split(";")
    if "host" not in names:
        return "", "host is not a signed header"
    if names != sorted(names):
        return "", "signed headers are not sorted"
    lines = []
    for name in names:
        value = headers.get(name)
        if value is None:
            return "", f"signed header {name!r} missing from the request"
        lines.append(f"{name}:{' '.join(value.split())}\n")
    return "".join(lines), None


def _time_problem(stamp: str, expires: str, now: datetime) -> str | None:
    """Reject a request outside ``[date - skew, date + expires)``; both stamps are ``YYYYMMDDTHHMMSSZ``."""
    try:
        signed_at = datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        seconds = int(expires)
    except ValueError:
        return f"malformed date {stamp!r} or expires {expires!r}"
    if not 1 <= seconds <= MAX_EXPIRES:
        return f"expires {seconds} outside 1..{MAX_EXPIRES}"
    if now >= signed_at + timedelta(seconds=seconds):
        return "expired"
    if now < signed_at - FUTURE_SKEW:
        return "not yet valid"
    return None


@dataclass(frozen=True)
class SignedRequest:
    """What a front received, in the raw form signatures are computed over."""

    method: str
    path: str
    params: dict[str, str]
    pairs: list[tuple[str, str]]
    headers: dict[str, str]

    @classmethod
    def of(cls, method: str, target: str, headers: Mapping[str, str]) -> SignedRequest:
        path, _, raw_query = target.partition("?")
        pairs = query_pairs(raw_query)
        return cls(
            method=method.upper(),
            path=path,
            params=dict(pairs),
            pairs=pairs,
            headers={name.lower(): value for name, value in headers.items()},
        )

    @classmethod
    def from_url(cls, url: str, method: str) -> SignedRequest:
        """The request a plain client would send for ``url`` (only the Host header)."""
        parts = urlsplit(url)
        target = f"{parts.path}?{parts.query}" if parts.query else parts.path
        return cls.of(method, target, {"host": parts.netloc})


class SignatureChecker(Protocol):
    """One signing scheme: recognise its signed requests and say what, if anything, is wrong."""

    signature_param: str

    def problem(self, request: SignedRequest, now: datetime) -> str | None: ...


# -- the V4 query-string scheme both clouds share ---------------------------------------------------


class QueryV4Checker:
    """S3 SigV4 and GCS V4 alike: ``<prefix>-Algorithm``, ``-Credential`` (``who/date/region/service/
    terminator``), ``-Date``, ``-Expires``, ``-SignedHeaders`` and ``-Signature`` query parameters, and one
    canonical request and string-to-sign. Subclasses say who signs and how the signature is checked."""

    prefix: ClassVar[str]
    algorithm: ClassVar[str]
    signer: ClassVar[str]
    signature_param: str

    def scope_tail(self) -> list[str]:
        raise NotImplementedError

    def knows(self, signer: str) -> bool:
        raise NotImplementedError

    def signature_matches(
        self, signer: str, scope_parts: list[str], string_to_sign: str, signature: str
    ) -> bool:
        raise NotImplementedError

    def param(self, name: str) -> str:
        return f"{self.prefix}-{name}"

    def problem(self, request: SignedRequest, now: datetime) -> str | None:
        params = request.params
        required = [self.param(name) for name in ("Algorithm", "Credential", "Date", "Expires")]
        missing = [name for name in (*required, self.param("SignedHeaders")) if name not in params]
        if missing:
            return f"missing {', '.join(missing)}"
        if params[self.param("Algorithm")] != self.algorithm:
            return f"unsupported algorithm {params[self.param('Algorithm')]!r}"
        return _time_problem(
            params[self.param("Date")], params[self.param("Expires")], now
        ) or self.signature_problem(request)

    def signature_problem(self, request: SignedRequest) -> str | None:
        params = request.params
        signer, _, scope = params[self.param("Credential")].partition("/")
        scope_parts = scope.split("/")
        if len(scope_parts) != 4 or scope_parts[2:] != self.scope_tail():
            return f"malformed credential scope {scope!r}"
        if scope_parts[0] != params[self.param("Date")][:8]:
            return f"credential date differs from {self.param('Date')}"
        if not self.knows(signer):
            return f"unknown {self.signer}"
        headers, problem = canonical_headers(params[self.param("SignedHeaders")], request.headers)
        if problem:
            return problem
        canonical_request = "\n".join(
            [
                request.method,
                request.path,
                canonical_query(request.pairs, self.signature_param),
                headers,
                params[self.param("SignedHeaders")],
                request.headers.get(self.param("Content-Sha256").lower(), UNSIGNED_PAYLOAD),
            ]
        )
        string_to_sign = "\n".join(
            [
                self.algorithm,
                params[self.param("Date")],
                scope,
                hashlib.sha256(canonical_request.encode()).hexdigest(),
            ]
        )
        signature = params.get(self.signature_param, "")
        if not self.signature_matches(signer, scope_parts, string_to_sign, signature):
            return "signature mismatch"
        return None


# -- S3 SigV4 (query string) --------------------------------------------------------------------------


@dataclass
class SigV4QueryChecker(QueryV4Checker):
    """Checks ``AWS4-HMAC-SHA256`` presigned URLs against known access keys (id -> secret)."""

    prefix: ClassVar[str] = "X-Amz"
    algorithm: ClassVar[str] = "AWS4-HMAC-SHA256"
    signer: ClassVar[str] = "access key"
    secrets: Mapping[str, str]
    service: str = "s3"
    signature_param: str = "X-Amz-Signature"

    def scope_tail(self) -> list[str]:
        return [self.service, "aws4_request"]

    def knows(self, signer: str) -> bool:
        return signer in self.secrets

    def signature_matches(
        self, signer: str, scope_parts: list[str], string_to_sign: str, signature: str
    ) -> bool:
        key = f"AWS4{self.secrets[signer]}".encode()
        for part in scope_parts:
            key = hmac.new(key, part.encode(), hashlib.sha256).digest()
        expected = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, signature)


def sigv4_query_signature_ok(url: str, method: str, secret_key: str) -> bool:
    """Whether ``url``'s SigV4 query signature is right for ``method`` and ``secret_key`` (expiry ignored)."""
    request = SignedRequest.from_url(url, method)
    access_key = request.params.get("X-Amz-Credential", "").partition("/")[0]
    return SigV4QueryChecker({access_key: secret_key}).signature_problem(request) is None


# -- GCS V4 (GOOG4-RSA-SHA256) ------------------------------------------------------------------------


@dataclass
class Goog4RsaChecker(QueryV4Checker):
    """Checks ``GOOG4-RSA-SHA256`` signed URLs against known service accounts (email -> public key)."""

    prefix: ClassVar[str] = "X-Goog"
    algorithm: ClassVar[str] = "GOOG4-RSA-SHA256"
    signer: ClassVar[str] = "service account"
    public_keys: Mapping[str, RSAPublicKey]
    signature_param: str = "X-Goog-Signature"

    def scope_tail(self) -> list[str]:
        return ["storage", "goog4_request"]

    def knows(self, signer: str) -> bool:
        return signer in self.public_keys

    def signature_matches(
        self, signer: str, scope_parts: list[str], string_to_sign: str, signature: str
    ) -> bool:
        try:
            self.public_keys[signer].verify(
                bytes.fromhex(signature), string_to_sign.encode(), padding.PKCS1v15(), hashes.SHA256()
            )
        except (ValueError, InvalidSignature):
            return False
        return True


def goog4_signature_ok(url: str, method: str, public_key: RSAPublicKey) -> bool:
    """Whether ``url``'s GOOG4-RSA-SHA256 signature verifies for ``method`` and ``public_key``."""
    request = SignedRequest.from_url(url, method)
    email = request.params.get("X-Goog-Credential", "").partition("/")[0]
    return Goog4RsaChecker({email: public_key}).signature_problem(request) is None


# -- the front server ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class FrontRecord:
    """One request the front saw; ``verdict`` is ``accepted``, ``passthrough`` or the refusal reason."""

    method: str
    path: str
    signature: str | None
    verdict: str
    status: int


@dataclass(frozen=True)
class UpstreamAnswer:
    """The store's answer, body kept raw (still content-encoded) so it can be relayed byte for byte."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes


@dataclass
class VerifyingFront:
    """A threaded stdlib HTTP server on 127.0.0.1 that checks signatures and forwards to ``upstream``."""

    upstream: str
    checker: SignatureChecker
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    records: list[FrontRecord] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._client = httpx.Client(trust_env=False, timeout=30.0, follow_redirects=False)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="verifying-front", daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> VerifyingFront:
        self._thread.start()
        return self

    def __enter__(self) -> VerifyingFront:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)
        self._client.close()

    def reset(self) -> None:
        with self._lock:
            self.records.clear()

    def record(self, entry: FrontRecord) -> None:
        with self._lock:
            self.records.append(entry)

    def signed(self, verdict: str | None = None) -> list[FrontRecord]:
        """Requests that carried a query signature, optionally only those with ``verdict``."""
        with self._lock:
            return [
                r
                for r in self.records
                if r.signature is not None and (verdict is None or r.verdict == verdict)
            ]

    def refused(self) -> list[FrontRecord]:
        with self._lock:
            return [r for r in self.records if r.status == 403]

    def decide(self, request: SignedRequest) -> tuple[str, str | None]:
        """``(verdict, signature)``; a verdict other than accepted/passthrough means 403."""
        signature = request.params.get(self.checker.signature_param)
        if signature is not None:
            return self.checker.problem(request, self.clock()) or "accepted", signature
        if request.method == "PUT" and "authorization" not in request.headers:
            return "unsigned PUT", None
        return "passthrough", None

    def forward(
        self, method: str, target: str, headers: list[tuple[str, str]], body: bytes
    ) -> UpstreamAnswer:
        """Send the request on unchanged (raw target, same headers and body)."""
        sent = [(name, value) for name, value in headers if name.lower() not in _NOT_FORWARDED]
        request = self._client.build_request(method, f"{self.upstream}{target}", headers=sent, content=body)
        response = self._client.send(request, stream=True)
        try:
            raw = b"".join(response.iter_raw())
        finally:
            response.close()
        return UpstreamAnswer(response.status_code, list(response.headers.multi_items()), raw)


def _handler_for(front: VerifyingFront) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _handle(self) -> None:
            body = self._read_body()
            request = SignedRequest.of(self.command, self.path, dict(self.headers.items()))
            verdict, signature = front.decide(request)
            if verdict not in ("accepted", "passthrough"):
                front.record(FrontRecord(request.method, request.path, signature, verdict, 403))
                self._refuse(verdict)
                return
            try:
                answer = front.forward(self.command, self.path, list(self.headers.items()), body)
            except httpx.HTTPError as err:  # the store dropped the request: say so instead of hanging up
                front.record(FrontRecord(request.method, request.path, signature, f"upstream {err!r}", 502))
                self._error(502, f"upstream failed: {type(err).__name__}")
                return
            front.record(FrontRecord(request.method, request.path, signature, verdict, answer.status))
            self._relay(answer)

        do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = do_PATCH = _handle

        def _read_body(self) -> bytes:
            if self.headers.get("transfer-encoding", "").lower() == "chunked":
                chunks = []
                while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
                while self.rfile.readline().strip():  # trailers
                    pass
                return b"".join(chunks)
            return self.rfile.read(int(self.headers.get("content-length") or 0))

        def _refuse(self, reason: str) -> None:
            self._error(403, f"Refused by the verifying front: {reason}", code="SignatureDoesNotMatch")

        def _error(self, status: int, message: str, code: str = "BadGateway") -> None:
            body = (
                "<?xml version='1.0' encoding='UTF-8'?>"
                f"<Error><Code>{code}</Code><Message>{message}</Message></Error>"
            ).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _relay(self, answer: UpstreamAnswer) -> None:
            self.send_response(answer.status)
            for name, value in answer.headers:
                if name.lower() not in _NOT_FORWARDED:
                    self.send_header(name, value)
            if self.command == "HEAD":  # no body, but the object's size (boto3 reads ContentLength)
                lengths = [value for name, value in answer.headers if name.lower() == "content-length"]
                self.send_header("Content-Length", lengths[0] if lengths else "0")
                self.end_headers()
                return
            self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            self.wfile.write(answer.body)

        def log_message(self, format: str, *args: Any) -> None:
            """Silent: the records are the log, and query strings (signatures) must not reach output."""

    return Handler


@pytest.fixture(scope="session")
def _s3_front_server(moto_server: Any) -> Iterator[VerifyingFront]:
    checker = SigV4QueryChecker({S3_FRONT_ACCESS_KEY: S3_FRONT_SECRET_KEY})
    with VerifyingFront(moto_server.endpoint_url, checker) as front:
        yield front


@pytest.fixture
def s3_front(_s3_front_server: VerifyingFront) -> VerifyingFront:
    """The S3 verifying front (in front of moto; knows the key ``testing``), with an empty record."""
    _s3_front_server.reset()
    return _s3_front_server


def aws_front_connection(front: VerifyingFront, secret_key: str) -> str:
    """An AWS connection (JSON for ``AIRFLOW_CONN_*``) whose endpoint is the front."""
    return json.dumps(
        {
            "conn_type": "aws",
            "login": S3_FRONT_ACCESS_KEY,
            "password": secret_key,
            "extra": {"endpoint_url": front.url, "region_name": S3_FRONT_REGION},
        }
    )


@pytest.fixture
def aws_front_conn(s3_front: VerifyingFront, monkeypatch: pytest.MonkeyPatch) -> str:
    """An AWS connection with the right secret whose endpoint is the S3 front; returns its id."""
    monkeypatch.setenv("AIRFLOW_CONN_AWS_RUNWARE_FRONT", aws_front_connection(s3_front, S3_FRONT_SECRET_KEY))
    return "aws_runware_front"


@pytest.fixture
def aws_front_conn_wrong_secret(s3_front: VerifyingFront, monkeypatch: pytest.MonkeyPatch) -> str:
    """Same access key id and endpoint, but a secret the front (and real S3) would not accept."""
    monkeypatch.setenv(
        "AIRFLOW_CONN_AWS_RUNWARE_FRONT_WRONG", aws_front_connection(s3_front, "not-the-right-secret")
    )
    return "aws_runware_front_wrong"
