"""Sending push messages: the :class:`PushSender` protocol, :class:`FcmSender` and :class:`LogSender`.

A sender takes a batch of :class:`PushMessage` and returns one :data:`SendOutcome` per message, in the
same order, and never raises for a single message's failure: the outbox decides what each outcome means
for its row (sent, deactivate that device, try again at a time, give up).

:class:`FcmSender` goes through firebase-admin's own code path (``messaging.send_each``) with its own
named firebase app. Two things are changed on that app's messaging service, both at the one place in
:meth:`FcmSender._connect`: the URL, so ``ENGAGEMENT_FCM_ENDPOINT`` can name a local FCM-compatible
endpoint (firebase-admin has no setting for it), and the HTTP retries, which are switched off because
firebase-admin's retry sleeps inside the sending thread (four 5xx retries take ~7 s; a 429 with
``Retry-After: 60`` holds the thread ~4 min). The outbox owns retry timing instead, from the outcomes.
"""

from __future__ import annotations

import hashlib
import logging
import math
import random
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, Literal, Protocol

import firebase_admin
import google.auth.credentials
import requests.adapters
from firebase_admin import credentials as fb_credentials
from firebase_admin import exceptions, messaging
from flask import Flask
from urllib3.util.retry import Retry

from engagement import clock

log = logging.getLogger(__name__)

GOOGLE_ENDPOINT = "https://fcm.googleapis.com"
MAX_BATCH = 500  # firebase-admin refuses larger send_each batches
MAX_TTL = timedelta(days=28)
MIN_RATE_LIMIT_DELAY = 60.0  # Google: quota errors back off "with a minimum initial delay of 1 minute"

RegistrationKind = Literal["fcm_token", "fid"]


# --- messages and outcomes -----------------------------------------------------------------------


@dataclass(frozen=True)
class PushMessage:
    """One notification to one device registration.

    ``data`` carries opaque routing ids only (outbox id, task id), never personal data. ``attempt`` is the
    1-based delivery attempt of this message; it sets the length of a backoff. ``collapse_key`` makes a
    repeated delivery replace, not stack, on the device. ``ttl`` is how long the message stays useful.
    """

    registration: str
    kind: RegistrationKind
    title: str
    body: str
    data: Mapping[str, str] = field(default_factory=dict)
    collapse_key: str | None = None
    ttl: timedelta | None = None
    analytics_label: str | None = None
    attempt: int = 1

    def __post_init__(self) -> None:
        if not isinstance(self.registration, str) or not self.registration.strip():
            raise ValueError("registration must be a non-empty string")
        if self.kind not in ("fcm_token", "fid"):
            raise ValueError(f"kind must be fcm_token or fid, got {self.kind!r}")
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in self.data.items()):
            raise ValueError("data must map strings to strings")
        if self.ttl is not None and not timedelta(0) <= self.ttl <= MAX_TTL:
            raise ValueError("ttl must be between 0 and 28 days")
        if self.attempt < 1:
            raise ValueError("attempt counts from 1")

    @property
    def fingerprint(self) -> str:
        return registration_fingerprint(self.registration)


@dataclass(frozen=True)
class Sent:
    """FCM accepted the message (not yet delivered to the device)."""

    message_id: str
    kind: Literal["sent"] = "sent"


@dataclass(frozen=True)
class DeactivateDevice:
    """The registration is dead or foreign: stop using that device (only that one)."""

    reason: Literal["unregistered", "sender_id_mismatch", "invalid_registration"]
    kind: Literal["deactivate_device"] = "deactivate_device"


@dataclass(frozen=True)
class RetryAfter:
    """Rate limited (429): try this message again after ``seconds`` (at least 60).

    ``project_wide`` is true when the project's quota (not one device's) ran out: slow everything down.
    """

    seconds: float
    project_wide: bool
    kind: Literal["retry_after"] = "retry_after"


@dataclass(frozen=True)
class Backoff:
    """FCM or the network failed for now (5xx, timeout, APNs auth): try again after ``seconds``."""

    seconds: float
    reason: str
    kind: Literal["backoff"] = "backoff"


@dataclass(frozen=True)
class Failed:
    """Sending this message again will not help (a malformed payload, a refused project): alert."""

    reason: str
    kind: Literal["failed"] = "failed"


SendOutcome = Sent | DeactivateDevice | RetryAfter | Backoff | Failed


class PushSender(Protocol):
    """Sends batches of push messages; one outcome per message, in order; never raises per message."""

    max_batch: int

    def send(self, messages: Sequence[PushMessage]) -> list[SendOutcome]: ...

    def close(self) -> None: ...


def registration_fingerprint(registration: str) -> str:
    """A stable, non-reversible label for a registration, fit for logs (never log the registration)."""
    return "reg#" + hashlib.sha256(registration.encode()).hexdigest()[:12]


def backoff_delay(
    attempt: int,
    *,
    base: float = 1.0,
    cap: float = 3600.0,
    jitter: float = 0.5,
    rand: Callable[[], float] = random.random,
) -> float:
    """Exponential backoff with independent jitter: ``base * 2**(attempt-1)``, plus up to ``jitter`` of it.

    Never below the exponential step and never above ``cap`` (seconds). ``rand`` returns [0, 1).
    """
    if attempt < 1:
        raise ValueError("attempt counts from 1")
    step = min(cap, math.ldexp(base, min(attempt - 1, 62)))
    return min(cap, step * (1.0 + jitter * rand()))


# --- classifying firebase-admin errors -----------------------------------------------------------

_APP_SENDER_LOCK = threading.Lock()
_FCM_ERROR = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
_BAD_REQUEST = "type.googleapis.com/google.rpc.BadRequest"
_REGISTRATION_FIELDS = {"message.token", "message.fid"}


def classify_error(
    error: BaseException,
    *,
    attempt: int = 1,
    rand: Callable[[], float] = random.random,
    now: Callable[[], datetime] = clock.now,
) -> SendOutcome:
    """What a failed send means for the outbox (see the module docstring and the outcome classes)."""
    if isinstance(error, messaging.UnregisteredError):
        return DeactivateDevice("unregistered")
    if isinstance(error, messaging.SenderIdMismatchError):
        return DeactivateDevice("sender_id_mismatch")
    if isinstance(error, exceptions.InvalidArgumentError):
        if _names_registration(error):
            return DeactivateDevice("invalid_registration")
        return Failed(f"invalid_argument: {_short(error)}")
    retry_after = _retry_after_seconds(error, now)
    if isinstance(error, exceptions.ResourceExhaustedError):  # QuotaExceededError is a subclass
        step = backoff_delay(attempt, base=MIN_RATE_LIMIT_DELAY, rand=rand)
        return RetryAfter(
            seconds=max(step, retry_after or 0.0),
            project_wide=not isinstance(error, messaging.QuotaExceededError),
        )
    if isinstance(error, messaging.ThirdPartyAuthError):
        # the APNs key or web push credentials are broken: operations must fix it; retry slowly
        return Backoff(backoff_delay(attempt, base=MIN_RATE_LIMIT_DELAY, rand=rand), "third_party_auth")
    status = _http_status(error)
    transient = (
        exceptions.InternalError,
        exceptions.UnavailableError,
        exceptions.DeadlineExceededError,
    )
    if isinstance(error, transient) or (status is not None and status >= 500):
        reason = getattr(error, "code", None) or f"http_{status}"
        return Backoff(max(backoff_delay(attempt, rand=rand), retry_after or 0.0), str(reason).lower())
    if isinstance(error, exceptions.UnknownError) and status is None:
        return Backoff(backoff_delay(attempt, rand=rand), "transport")
    code = getattr(error, "code", None) or type(error).__name__
    return Failed(f"{str(code).lower()}: {_short(error)}")


def _names_registration(error: exceptions.FirebaseError) -> bool:
    """Whether an INVALID_ARGUMENT is about the registration rather than the payload we built."""
    details = _error_details(error)
    violations = [
        str(v.get("field", ""))
        for d in details
        if d.get("@type") == _BAD_REQUEST
        for v in d.get("fieldViolations", [])
        if isinstance(v, dict)
    ]
    if any(f in _REGISTRATION_FIELDS for f in violations):
        return True
    if violations:
        return False
    if any(d.get("@type") == _FCM_ERROR and d.get("errorCode") == "INVALID_ARGUMENT" for d in details):
        return True
    return "registration token" in str(error).lower()


def _error_details(error: exceptions.FirebaseError) -> list[dict[str, Any]]:
    response = getattr(error, "http_response", None)
    if response is None:
        return []
    try:
        body = response.json()
    except ValueError:
        return []
    details = body.get("error", {}).get("details", []) if isinstance(body, dict) else []
    return [d for d in details if isinstance(d, dict)] if isinstance(details, list) else []


def _http_status(error: BaseException) -> int | None:
    response = getattr(error, "http_response", None)
    status = getattr(response, "status_code", None)
    return status if isinstance(status, int) else None


def _retry_after_seconds(error: BaseException, now: Callable[[], datetime]) -> float | None:
    response = getattr(error, "http_response", None)
    value = getattr(response, "headers", {}).get("Retry-After") if response is not None else None
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - now()).total_seconds()
    return max(0.0, seconds) if math.isfinite(seconds) else None


def _short(error: BaseException) -> str:
    return str(error).splitlines()[0][:200] if str(error) else type(error).__name__


# --- firebase-admin ------------------------------------------------------------------------------


class StaticCredential(google.auth.credentials.Credentials):
    """A credential with a constant bearer token, for a local FCM-compatible endpoint (never Google's).

    Unlike ``AnonymousCredentials`` it can "refresh" (to the same token), which google-auth does on a 401.
    """

    TOKEN = "local-endpoint-token"  # noqa: S105 - not a secret: only a local endpoint accepts it

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.token = self.TOKEN

    def refresh(self, request: Any) -> None:
        self.token = self.TOKEN


def _no_retries() -> Retry:
    # no status retries and, above all, no sleeping on Retry-After inside the sending thread
    return Retry(total=0, connect=0, read=0, redirect=0, status=0, raise_on_status=False,
                 respect_retry_after_header=False)  # fmt: skip


class FcmSender:
    """Sends through firebase-admin's ``messaging.send_each``, ``max_batch`` messages per call.

    ``credentials`` is a service-account JSON file, the word ``static`` (a constant token, for a local
    endpoint), or a credential object. ``endpoint`` is the base URL that ``/v1/projects/{project}/
    messages:send`` is appended to. Each sender initialises its own named firebase app; :meth:`close`
    deletes it.
    """

    def __init__(
        self,
        *,
        project_id: str | None,
        credentials: str | fb_credentials.Base | google.auth.credentials.Credentials,
        endpoint: str = GOOGLE_ENDPOINT,
        max_batch: int = MAX_BATCH,
        timeout: float = 10.0,
        rand: Callable[[], float] = random.random,
    ) -> None:
        if not 1 <= max_batch <= MAX_BATCH:
            raise ValueError(f"max_batch must be from 1 to {MAX_BATCH}")
        endpoint = endpoint.rstrip("/")
        if credentials == "static" and endpoint == GOOGLE_ENDPOINT:
            raise ValueError("static credentials only work with a local ENGAGEMENT_FCM_ENDPOINT")
        credential = _credential(credentials)
        project_id = project_id or getattr(credential, "project_id", None)
        if not project_id:
            raise ValueError("an FCM project id is needed (ENGAGEMENT_FCM_PROJECT_ID)")
        self.project_id: str = project_id
        self.endpoint = endpoint
        self.max_batch = max_batch
        self._rand = rand
        self._lock = threading.Lock()
        self.app = firebase_admin.initialize_app(
            credential,
            {"projectId": project_id, "httpTimeout": timeout},
            name=f"engagement-push-{uuid.uuid4().hex}",
        )
        self._connect()

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> FcmSender:
        """A sender from the ``FCM_*`` settings."""
        return cls(
            project_id=config.get("FCM_PROJECT_ID") or None,
            credentials=str(config["FCM_CREDENTIALS"]),
            endpoint=str(config.get("FCM_ENDPOINT") or GOOGLE_ENDPOINT),
        )

    def _connect(self) -> None:
        service = messaging._get_messaging_service(self.app)
        if not hasattr(service, "_fcm_url") or not hasattr(service, "_client"):
            raise RuntimeError("firebase-admin's messaging internals changed; see notifications/sender.py")
        service._fcm_url = f"{self.endpoint}/v1/projects/{self.project_id}/messages:send"
        adapter = requests.adapters.HTTPAdapter(
            pool_connections=1, pool_maxsize=self.max_batch, max_retries=_no_retries()
        )
        # the longest mounted prefix wins over the SDK's own retrying adapters
        service._client.session.mount(self.endpoint, adapter)
        self._session = service._client.session

    def send(self, messages: Sequence[PushMessage]) -> list[SendOutcome]:
        outcomes: list[SendOutcome] = []
        for start in range(0, len(messages), self.max_batch):
            outcomes.extend(self._send_batch(messages[start : start + self.max_batch]))
        return outcomes

    def _send_batch(self, batch: Sequence[PushMessage]) -> list[SendOutcome]:
        results: list[SendOutcome | None] = [None] * len(batch)
        built = [(i, to_fcm_message(message)) for i, message in enumerate(batch)]
        try:
            response = messaging.send_each([m for _, m in built], app=self.app)
        except ValueError:
            # the SDK encodes the whole batch before sending any of it: set aside what it refuses
            built = self._encodable(batch, built, results)
            response = messaging.send_each([m for _, m in built], app=self.app) if built else None
        except exceptions.FirebaseError as exc:  # the batch as a whole could not be attempted
            outcome = classify_error(exc, rand=self._rand)
            return [outcome] * len(batch)
        if response is not None:
            for (i, _), item in zip(built, response.responses, strict=True):
                if item.success:
                    results[i] = Sent(str(item.message_id))
                    continue
                outcome = classify_error(item.exception, attempt=batch[i].attempt, rand=self._rand)
                results[i] = (
                    Failed(_redacted(outcome.reason, batch[i])) if isinstance(outcome, Failed) else outcome
                )
        return [r if r is not None else Failed("not_sent") for r in results]

    @staticmethod
    def _encodable(
        batch: Sequence[PushMessage],
        built: list[tuple[int, messaging.Message]],
        results: list[SendOutcome | None],
    ) -> list[tuple[int, messaging.Message]]:
        keep = []
        for i, fcm_message in built:
            try:
                str(fcm_message)  # the SDK's own encoder and validation
            except ValueError as exc:
                results[i] = Failed(f"invalid_message: {_redacted(str(exc), batch[i])}")
            else:
                keep.append((i, fcm_message))
        return keep

    def close(self) -> None:
        """Delete the firebase app and close its connections. The sender cannot send afterwards."""
        with self._lock:
            if getattr(self, "app", None) is None:
                return
            self._session.close()
            firebase_admin.delete_app(self.app)
            self.app = None


def _credential(
    value: str | fb_credentials.Base | google.auth.credentials.Credentials,
) -> fb_credentials.Base | google.auth.credentials.Credentials:
    if value == "static":
        return StaticCredential()
    if isinstance(value, str):
        return fb_credentials.Certificate(value)
    return value


def _redacted(text: str, message: PushMessage) -> str:
    return text.replace(message.registration, message.fingerprint)


def to_fcm_message(message: PushMessage) -> messaging.Message:
    """The firebase-admin message for one push: a notification with neutral text, routing ids in data."""
    ttl = message.ttl
    android = messaging.AndroidConfig(
        priority="high",
        ttl=ttl,
        collapse_key=message.collapse_key,
        notification=messaging.AndroidNotification(channel_id="reminders", tag=message.collapse_key),
    )
    apns_headers = {"apns-push-type": "alert", "apns-priority": "10"}
    if message.collapse_key:
        apns_headers["apns-collapse-id"] = message.collapse_key[:64]
    if ttl is not None:
        apns_headers["apns-expiration"] = str(int((clock.now() + ttl).timestamp()))
    fcm = messaging.Message(
        notification=messaging.Notification(title=message.title, body=message.body),
        data=dict(message.data),
        android=android,
        apns=messaging.APNSConfig(headers=apns_headers),
        fcm_options=messaging.FCMOptions(analytics_label=message.analytics_label)
        if message.analytics_label
        else None,
        fid=message.registration if message.kind == "fid" else None,
    )
    if message.kind == "fcm_token":
        # FCM still accepts registration tokens; set after construction so the SDK's deprecation
        # notice for the constructor argument does not fire per message
        fcm.token = message.registration
    return fcm


# --- development ---------------------------------------------------------------------------------


class LogSender:
    """Writes each message to the log instead of sending it (development); registrations as fingerprints."""

    max_batch = MAX_BATCH

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self._log = logger or log

    def send(self, messages: Sequence[PushMessage]) -> list[SendOutcome]:
        outcomes: list[SendOutcome] = []
        for message in messages:
            message_id = f"log/{uuid.uuid4().hex}"
            self._log.info(
                "push (not sent, logged) to %s (%s): %s | %s | data=%s",
                message.fingerprint,
                message.kind,
                message.title,
                message.body,
                dict(message.data),
                extra={"event": "push.logged"},
            )
            outcomes.append(Sent(message_id))
        return outcomes

    def close(self) -> None:
        return None


def sender_from_config(config: Mapping[str, Any]) -> PushSender:
    """FCM when ``FCM_CREDENTIALS`` is set; otherwise the log sender, which production refuses."""
    if config.get("FCM_CREDENTIALS"):
        return FcmSender.from_config(config)
    if config.get("ENV") == "production":
        raise RuntimeError(
            "ENGAGEMENT_FCM_CREDENTIALS is required in production (reminders would only be logged)"
        )
    return LogSender()


def sender_for(app: Flask) -> PushSender:
    """The Flask app's push sender, created from its config once per app (one firebase app per app)."""
    with _APP_SENDER_LOCK:
        sender: PushSender | None = app.extensions.get("notifications.sender")
        if sender is None:
            sender = sender_from_config(app.config)
            app.extensions["notifications.sender"] = sender
        return sender
