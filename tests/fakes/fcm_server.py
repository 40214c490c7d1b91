"""A local FCM-compatible HTTP endpoint: a real HTTP/1.1 server on a loopback port, in a thread.

It answers ``POST /v1/projects/{project}/messages:send`` as FCM v1 does, records every request, and can be
scripted per target (registration token / installation id) or for the next calls whatever the target.
Without a script, a target's prefix picks the answer (``unregistered-…``, ``badtoken-…``, see ``PREFIXES``),
and everything else is accepted with a sequential message id. ``POST /token`` is an OAuth token endpoint
for service-account credentials whose ``token_uri`` points here.

Error bodies follow Google's shapes: ``{"error": {"code", "message", "status", "details": [...]}}`` with an
``FcmError`` detail where FCM sends one.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
from collections import defaultdict, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

FCM_ERROR = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
BAD_REQUEST = "type.googleapis.com/google.rpc.BadRequest"
ERROR_INFO = "type.googleapis.com/google.rpc.ErrorInfo"
SEND_PATH = re.compile(r"^/v1/projects/([^/]+)/messages:send$")


@dataclass(frozen=True)
class Reply:
    status: int
    body: dict[str, Any] = field(default_factory=dict)
    headers: tuple[tuple[str, str], ...] = ()


def _error(
    code: int, status: str, message: str, fcm_code: str | None = None, *extra: dict[str, Any]
) -> dict[str, Any]:
    details = ([{"@type": FCM_ERROR, "errorCode": fcm_code}] if fcm_code else []) + list(extra)
    error: dict[str, Any] = {"code": code, "message": message, "status": status}
    if details:
        error["details"] = details
    return {"error": error}


def _retry(seconds: int | None) -> tuple[tuple[str, str], ...]:
    return (("Retry-After", str(seconds)),) if seconds is not None else ()


def ok() -> Reply:
    """Accepted; the server fills in ``name`` with a fresh message id."""
    return Reply(200)


def unregistered() -> Reply:
    return Reply(404, _error(404, "NOT_FOUND", "Requested entity was not found.", "UNREGISTERED"))


def sender_id_mismatch() -> Reply:
    return Reply(403, _error(403, "PERMISSION_DENIED", "SenderId mismatch", "SENDER_ID_MISMATCH"))


def invalid_token() -> Reply:
    return Reply(
        400,
        _error(
            400,
            "INVALID_ARGUMENT",
            "The registration token is not a valid FCM registration token",
            "INVALID_ARGUMENT",
        ),
    )


def invalid_payload() -> Reply:
    violation = {
        "@type": BAD_REQUEST,
        "fieldViolations": [
            {"field": "message.data[0].value", "description": "Invalid value at 'message.data[0].value'"}
        ],
    }
    return Reply(
        400,
        _error(
            400,
            "INVALID_ARGUMENT",
            "Invalid value at 'message.data[0].value' (TYPE_STRING), 12",
            None,
            violation,
        ),
    )


def quota_exceeded(retry_after: int | None = None) -> Reply:
    """429 for one device (FcmError QUOTA_EXCEEDED)."""
    return Reply(
        429, _error(429, "RESOURCE_EXHAUSTED", "Quota exceeded.", "QUOTA_EXCEEDED"), _retry(retry_after)
    )


def project_quota_exceeded(retry_after: int | None = None) -> Reply:
    """429 for the whole project: no FcmError, only an ErrorInfo."""
    info = {
        "@type": ERROR_INFO,
        "reason": "RATE_LIMIT_EXCEEDED",
        "domain": "googleapis.com",
        "metadata": {
            "quota_metric": "fcm.googleapis.com/send_requests",
            "quota_limit": "SendsPerMinutePerProject",
        },
    }
    return Reply(
        429,
        _error(429, "RESOURCE_EXHAUSTED", "Quota exceeded for quota metric 'Send requests'.", None, info),
        _retry(retry_after),
    )


def unavailable(retry_after: int | None = None) -> Reply:
    return Reply(
        503, _error(503, "UNAVAILABLE", "The service is currently unavailable."), _retry(retry_after)
    )


def internal() -> Reply:
    return Reply(500, _error(500, "INTERNAL", "Internal error encountered.", "INTERNAL"))


def third_party_auth() -> Reply:
    return Reply(
        401,
        _error(401, "UNAUTHENTICATED", "Auth error from APNS or Web Push Service", "THIRD_PARTY_AUTH_ERROR"),
    )


PREFIXES = {
    "unregistered-": unregistered,
    "senderid-": sender_id_mismatch,
    "badtoken-": invalid_token,
    "badpayload-": invalid_payload,
    "devquota-": quota_exceeded,
    "projquota-": project_quota_exceeded,
    "unavailable-": unavailable,
    "internal-": internal,
    "thirdparty-": third_party_auth,
}


@dataclass(frozen=True)
class Call:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    status: int

    @property
    def message(self) -> dict[str, Any]:
        return dict(self.body.get("message", {}))

    @property
    def target(self) -> str | None:
        return _target(self.body)


def _target(body: dict[str, Any]) -> str | None:
    message = body.get("message", {})
    for key in ("fid", "token", "topic", "condition"):
        if message.get(key):
            return str(message[key])
    return None


class FakeFcm:
    """Start with ``with FakeFcm() as fcm:``; point a sender at ``fcm.url``; inspect ``fcm.calls``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._per_target: dict[str, deque[Reply]] = defaultdict(deque)
        self._next: deque[Reply] = deque()
        self._ids = itertools.count(1)
        self.calls: list[Call] = []
        self.token_requests: list[dict[str, str]] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- scripting -------------------------------------------------------------------------------

    def script(self, target: str, *replies: Reply) -> None:
        """The replies for ``target``'s next requests, in order; the last one then keeps answering."""
        with self._lock:
            self._per_target[target].extend(replies)

    def script_next(self, *replies: Reply) -> None:
        """The replies for the next requests, whatever their target (before any per-target script)."""
        with self._lock:
            self._next.extend(replies)

    def hits(self, target: str) -> int:
        with self._lock:
            return sum(1 for c in self.calls if c.target == target)

    def _reply_for(self, body: dict[str, Any]) -> Reply:
        with self._lock:
            if self._next:
                return self._next.popleft()
            target = _target(body) or ""
            queue = self._per_target.get(target)
            if queue:
                return queue.popleft() if len(queue) > 1 else queue[0]
        if body.get("validate_only"):
            return ok()
        for prefix, reply in PREFIXES.items():
            if target.startswith(prefix):
                return reply()
        return ok()

    def _record(self, call: Call) -> None:
        with self._lock:
            self.calls.append(call)

    def message_id(self) -> int:
        with self._lock:
            return next(self._ids)

    # --- lifecycle -------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        assert self._server is not None, "the fake is not running"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeFcm:
        server = _Server(("127.0.0.1", 0), _handler_for(self))
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="fake-fcm", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeFcm:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024  # send_each opens up to 500 connections at once


def _handler_for(fake: FakeFcm) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            return None

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            if len(raw) < length:
                # the client went away mid-body (a worker killed while sending): FCM never saw a message
                self.close_connection = True
                return
            if self.path == "/token":
                self._token(raw)
                return
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                body = {}
            match = SEND_PATH.match(self.path)
            if not match:
                reply = Reply(404, _error(404, "NOT_FOUND", f"no such method {self.path}"))
            else:
                reply = fake._reply_for(body)
            payload = dict(reply.body)
            if reply.status == 200:
                suffix = "fake_message_id" if body.get("validate_only") else str(fake.message_id())
                payload = {"name": f"projects/{match.group(1) if match else '-'}/messages/{suffix}"}
            fake._record(Call(self.path, {k.lower(): v for k, v in self.headers.items()}, body, reply.status))
            self._send(reply.status, payload, reply.headers)

        def _token(self, raw: bytes) -> None:
            from urllib.parse import parse_qsl

            form = dict(parse_qsl(raw.decode()))
            with fake._lock:
                fake.token_requests.append(form)
            self._send(
                200, {"access_token": "fake-oauth-access-token", "expires_in": 3600, "token_type": "Bearer"}
            )

        def _send(
            self, status: int, payload: dict[str, Any], headers: tuple[tuple[str, str], ...] = ()
        ) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=UTF-8")
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers:
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

    return Handler
