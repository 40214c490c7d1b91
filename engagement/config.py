"""Settings: defaults, overlaid with ``ENGAGEMENT_*`` environment variables, then validated.

Every setting the service reads is declared in :data:`SETTINGS` with its default and a one-line
description; the README's configuration table is generated from this list (``flask config-doc``).
Values land in ``app.config`` under the name without the prefix. Nothing here runs at import time.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ENVIRONMENTS = ("development", "test", "production")


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    description: str
    kind: type = str
    secret: bool = False
    dev_only_if: Any = None  # a value that is refused in production
    optional: bool = False  # a secret that production may leave unset (another setting stands in)


SETTINGS: tuple[Setting, ...] = (
    Setting("ENV", "development", "`development`, `test` or `production`"),
    Setting(
        "DATABASE_URL",
        None,
        "SQLAlchemy URL; default SQLite in `instance/`; production: `postgresql+psycopg://…`",
    ),
    Setting("SECRET_KEY", None, "signs the browser-binding cookie of a login", secret=True),
    Setting(
        "PID_PEPPER", None, "HMAC-SHA256 key that turns a fødselsnummer into its lookup hash", secret=True
    ),
    Setting(
        "TOKEN_SIGNING_KEY",
        None,
        "file holding the EC P-256 private JWK that signs access tokens",
        secret=True,
    ),
    Setting("PUBLIC_URL", "http://127.0.0.1:5000", "external base URL of this service; issuer of its tokens"),
    Setting("MAX_CONTENT_LENGTH", 1_048_576, "largest accepted request body, bytes", kind=int),
    Setting("LOG_LEVEL", "INFO", "log level"),
    Setting("LOG_JSON", True, "one JSON object per log line (`false`: plain text)", kind=bool),
    Setting("DB_POOL_SIZE", 10, "PostgreSQL connections kept per process", kind=int),
    Setting("DB_MAX_OVERFLOW", 10, "extra PostgreSQL connections allowed above the pool", kind=int),
    Setting("DB_POOL_TIMEOUT", 5, "seconds to wait for a connection before answering 503", kind=int),
    Setting(
        "RATE_LIMIT_STORAGE", "memory://", "flask-limiter storage URI (`redis://host:6379` to share limits)"
    ),
    Setting("RATE_LIMIT_AUTH", "30/minute", "limit per client address on the `/auth` endpoints"),
    Setting("RATE_LIMIT_SUBMISSION", "30/minute", "limit per participant on questionnaire submissions"),
    Setting("METRICS_TOKEN", None, "bearer token that unlocks `/metrics`; unset: `/metrics` answers 404"),
    Setting(
        "DEV_IDPORTEN",
        False,
        "serve the development ID-porten stand-in (never in production)",
        kind=bool,
        dev_only_if=True,
    ),
    Setting(
        "ALLOW_SYNTHETIC_PID",
        False,
        "accept synthetic test numbers (Tenor, month + 80); never in production",
        kind=bool,
        dev_only_if=True,
    ),
    Setting("CONSENT_DOCUMENT", "moba-at-18", "key of the consent document participants decide on"),
    Setting(
        "IDPORTEN_ISSUER", None, "ID-porten issuer (discovery); development: the stand-in at `/dev/idporten`"
    ),
    Setting("IDPORTEN_CLIENT_ID", None, "this service's client id at ID-porten"),
    Setting(
        "IDPORTEN_CLIENT_SECRET",
        None,
        "ID-porten client secret (`client_secret_post`)",
        secret=True,
        optional=True,
    ),
    Setting(
        "IDPORTEN_CLIENT_KEY",
        None,
        "file with the private JWK for `private_key_jwt` at ID-porten (required in production)",
        secret=True,
        optional=True,
    ),
    Setting(
        "IDPORTEN_ACR_VALUES",
        "idporten-loa-substantial idporten-loa-high",
        "accepted `acr` values, space-separated; the first is requested as the minimum",
    ),
    Setting(
        "STAFF_ISSUER", None, "the staff OpenID provider's issuer; development: the stand-in at `/dev/staff`"
    ),
    Setting("STAFF_CLIENT_ID", None, "this service's client id at the staff OpenID provider"),
    Setting(
        "STAFF_CLIENT_SECRET",
        None,
        "staff provider client secret (`client_secret_post`)",
        secret=True,
        optional=True,
    ),
    Setting(
        "STAFF_CLIENT_KEY",
        None,
        "file with the private JWK for `private_key_jwt` at the staff provider",
        secret=True,
        optional=True,
    ),
    Setting("STAFF_ROLES_CLAIM", "roles", "ID-token claim of the staff provider that lists the user's roles"),
    Setting(
        "APP_CLIENTS",
        None,
        "JSON list of `{client_id, kind, redirect_uris}` (kind `participant` or `staff`); development: demo clients",
        kind=list,
    ),
    Setting(
        "SESSION_IDLE_MINUTES", 30, "a login ends after this many minutes without a token refresh", kind=int
    ),
    Setting(
        "SESSION_MAX_HOURS", 12, "a login ends this many hours after it began, whatever its use", kind=int
    ),
    Setting(
        "FCM_PROJECT_ID", None, "Firebase project that sends push reminders (default: the service account's)"
    ),
    Setting(
        "FCM_CREDENTIALS",
        None,
        "service-account JSON file for FCM, or `static` for a local endpoint; unset: reminders are only logged (refused in production)",
    ),
    Setting(
        "FCM_ENDPOINT",
        "https://fcm.googleapis.com",
        "base URL the FCM v1 path `/v1/projects/{project}/messages:send` is appended to",
    ),
    Setting(
        "TRUSTED_PROXIES",
        0,
        "trusted proxies in front of the service (their `X-Forwarded-For` gives the client address)",
        kind=int,
    ),
    Setting(
        "DATA_STORE_DIR",
        None,
        "research data store folder that extracts are delivered into (production: e.g. TSD's import area); default `instance/datastore` (required in production)",
    ),
    Setting(
        "REMINDER_BATCH",
        500,
        "reminders a worker claims and sends per batch (FCM takes 500 per call)",
        kind=int,
    ),
    Setting(
        "REMINDER_LEASE_SECONDS",
        300,
        "a claimed reminder returns to the queue if its worker is silent this long",
        kind=int,
    ),
    Setting("REMINDER_POLL_SECONDS", 5, "seconds the reminder worker waits when nothing is due", kind=int),
    Setting(
        "EXTRACT_LEASE_SECONDS",
        120,
        "an extract job returns to the queue if its worker is silent this long (a living worker renews it)",
        kind=int,
    ),
)

_DEV_SECRETS = {
    "SECRET_KEY": "development-only-secret-key",
    "PID_PEPPER": "development-only-pid-pepper",
}


class ConfigError(RuntimeError):
    """The configuration cannot run the service; the message lists every problem."""


def _coerce(setting: Setting, raw: str) -> Any:
    if setting.kind is bool:
        value = raw.strip().lower()
        if value in ("1", "true", "yes", "on"):
            return True
        if value in ("0", "false", "no", "off", ""):
            return False
        raise ValueError(f"expected true or false, got {raw!r}")
    if setting.kind is int:
        return int(raw)
    if setting.kind in (list, dict):
        return json.loads(raw)
    return raw


def load(
    overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Defaults, overlaid with ``ENGAGEMENT_*`` variables, then explicit ``overrides``; then validated.

    Raises :class:`ConfigError` naming every problem at once.
    """
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {s.name: s.default for s in SETTINGS}
    problems: list[str] = []
    for s in SETTINGS:
        raw = env.get(f"ENGAGEMENT_{s.name}")
        if raw is None:
            continue
        try:
            values[s.name] = _coerce(s, raw)
        except ValueError as exc:
            problems.append(f"ENGAGEMENT_{s.name}: {exc}")
    values.update(overrides or {})
    problems.extend(validate(values))
    if problems:
        raise ConfigError("The service cannot start:\n" + "\n".join(f"  - {p}" for p in problems))
    if values["ENV"] != "production":
        for name, dev_value in _DEV_SECRETS.items():
            values[name] = values[name] or dev_value
    if not values["DATABASE_URL"]:
        values["DATABASE_URL"] = f"sqlite:///{PROJECT_ROOT / 'instance' / 'engagement.sqlite3'}"
    if not values.get("DATA_STORE_DIR"):
        values["DATA_STORE_DIR"] = str(PROJECT_ROOT / "instance" / "datastore")
    return values


def validate(values: Mapping[str, Any]) -> list[str]:
    """Every reason these settings cannot run; production refuses missing secrets and development settings."""
    problems: list[str] = []
    env = values.get("ENV")
    if env not in ENVIRONMENTS:
        problems.append(f"ENGAGEMENT_ENV must be one of {', '.join(ENVIRONMENTS)}, got {env!r}")
    if env != "production":
        return problems
    for s in SETTINGS:
        value = values.get(s.name)
        if s.secret and not s.optional and not value:
            problems.append(f"ENGAGEMENT_{s.name} is required in production ({s.description})")
        if s.dev_only_if is not None and value == s.dev_only_if:
            problems.append(f"ENGAGEMENT_{s.name} is a development setting and is refused in production")
    url = str(values.get("DATABASE_URL") or "")
    if not url.startswith("postgresql"):
        problems.append("ENGAGEMENT_DATABASE_URL must name PostgreSQL in production")
    if not str(values.get("PUBLIC_URL", "")).startswith("https://"):
        problems.append("ENGAGEMENT_PUBLIC_URL must be an https:// URL in production")
    if not values.get("DATA_STORE_DIR"):
        problems.append("ENGAGEMENT_DATA_STORE_DIR is required in production (where extracts are delivered)")
    for name, dev_value in _DEV_SECRETS.items():
        if values.get(name) == dev_value:
            problems.append(f"ENGAGEMENT_{name} holds the development value")
    problems.extend(_login_problems(values))
    return problems


def _login_problems(values: Mapping[str, Any]) -> list[str]:
    """Production login: https issuers (never ID-porten TEST), one client authentication, app clients."""
    problems: list[str] = []
    for prefix in ("IDPORTEN", "STAFF"):
        issuer = str(values.get(f"{prefix}_ISSUER") or "")
        if not issuer.startswith("https://"):
            problems.append(f"ENGAGEMENT_{prefix}_ISSUER must be an https:// issuer in production")
        if not values.get(f"{prefix}_CLIENT_ID"):
            problems.append(f"ENGAGEMENT_{prefix}_CLIENT_ID is required in production")
        secret, key = values.get(f"{prefix}_CLIENT_SECRET"), values.get(f"{prefix}_CLIENT_KEY")
        if secret and key:
            problems.append(f"ENGAGEMENT_{prefix}_CLIENT_SECRET and _CLIENT_KEY: set only one")
        elif not (secret or key):
            problems.append(f"ENGAGEMENT_{prefix}_CLIENT_KEY (or _CLIENT_SECRET) is required in production")
    if "test.idporten.no" in str(values.get("IDPORTEN_ISSUER") or ""):
        problems.append("ENGAGEMENT_IDPORTEN_ISSUER names ID-porten TEST; refused in production")
    if values.get("IDPORTEN_CLIENT_SECRET"):
        problems.append(
            "ENGAGEMENT_IDPORTEN_CLIENT_KEY (private_key_jwt) is required by ID-porten in production"
        )
    if not values.get("APP_CLIENTS"):
        problems.append("ENGAGEMENT_APP_CLIENTS is required in production")
    if os.environ.get("AUTHLIB_INSECURE_TRANSPORT"):
        problems.append("AUTHLIB_INSECURE_TRANSPORT is set; refused in production")
    return problems


def describe() -> str:
    """The configuration table of the README, one line per variable."""
    lines = ["| variable | default | meaning |", "|---|---|---|"]
    for s in SETTINGS:
        default = "—" if s.default is None or s.secret else f"`{s.default}`"
        lines.append(f"| `ENGAGEMENT_{s.name}` | {default} | {s.description} |")
    return "\n".join(lines)
