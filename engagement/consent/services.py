"""Consent documents, the decision ledger, and the one question asked everywhere:
may this participant's data be used for this purpose / may they be contacted, at this time?

The answer is derived from the ledger each time it is asked (no standing is cached or updated in
place; only the terms of published documents, which never change): the participant's latest decision (one row per purpose, all made together on one document
version), the strongest withdrawal made since that decision, and the versions published since.
Task creation, submission, reminder sending and extracts call :func:`may_use_data`,
:func:`require_data_use`, :func:`may_contact` and :func:`may_export`; there is no second copy.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import re
import uuid
from collections import Counter
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime, time
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import sqlalchemy as sa
import yaml
from flask import current_app

from engagement import audit, clock
from engagement.config import PROJECT_ROOT
from engagement.consent.models import (
    WITHDRAWAL_SCOPES,
    ConsentDecision,
    ConsentDocument,
    ConsentWithdrawal,
)
from engagement.db import bulk_objects
from engagement.extensions import db
from engagement.participants.models import Participant
from engagement.participants.services import ADULT_AGE, OSLO, adult_from, age_on, today_in_oslo
from engagement.problems import (
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    ServiceUnavailable,
    ValidationFailed,
)

# Purpose codes of the seed consent document; other domains refer to purposes by these codes.
PARTICIPATION = "participation"
QUESTIONNAIRES = "questionnaires"
REGISTRY_LINKAGE = "registry_linkage"
BIOBANK = "biobank"
RECONTACT = "recontact_substudies"
INTERNATIONAL_SHARING = "international_sharing"

# Purposes that collect new data: blocked by a pending major version and by no_new_data.
COLLECTING_PURPOSES = frozenset({QUESTIONNAIRES})

NO_CONTACT, NO_NEW_DATA, DELETE_DATA = WITHDRAWAL_SCOPES
AGE_OF_CONSENT = ADULT_AGE  # the age of login and of consent are one rule
CONSENT_DIR = PROJECT_ROOT / "questionnaires" / "consent"
_FILE_NAME = re.compile(r"^v([1-9][0-9]*)\.yaml$")


class ConsentRequired(Forbidden):
    slug, title = "consent-required", "A consent decision is needed first"


class ConsentUnderAge(Forbidden):
    slug, title = "consent-under-18", "Only a participant aged 18 or older can decide"


class ConsentVersionOutdated(Conflict):
    slug, title = "consent-version-outdated", "A newer version of the consent document exists"


class ConsentDocumentNotFound(NotFound):
    slug, title = "consent-document-not-found", "No such consent document version"


class ConsentDocumentMissing(ServiceUnavailable):
    slug, title = "consent-document-missing", "No consent document has been published yet"


class ConsentDocumentChanged(Conflict):
    slug, title = "consent-document-changed", "A published consent document version cannot change"


class ConsentDocumentInvalid(BadRequest):
    slug, title = "consent-document-invalid", "The consent document file is not valid"


@dataclass(frozen=True)
class Evidence:
    """How the participant was logged in when they decided (ID-porten assurance level and login time)."""

    acr: str | None = None
    auth_time: datetime | None = None
    session_id: uuid.UUID | None = None


# --- documents -------------------------------------------------------------------------------------


@cache
def _document_schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((CONSENT_DIR / "consent-document.schema.json").read_text())
    return schema


def content_hash(content: dict[str, Any]) -> str:
    """SHA-256 of the document's canonical JSON: reformatting the YAML is no change, any edit is."""
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def load_document_file(path: Path) -> dict[str, Any]:
    """Parse and check one ``<key>/v<N>.yaml`` file (schema, name, unique purposes, a required one)."""
    where = f"{path.parent.name}/{path.name}"
    match = _FILE_NAME.match(path.name)
    if not match:
        raise ConsentDocumentInvalid(f"{where}: a consent file is named v<N>.yaml")
    try:
        content = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConsentDocumentInvalid(f"{where}: not valid YAML ({exc})") from exc
    errors = sorted(
        jsonschema.Draft202012Validator(_document_schema()).iter_errors(content), key=lambda e: e.path
    )
    if errors:
        first = errors[0]
        location = "/".join(str(p) for p in first.absolute_path) or "(document)"
        raise ConsentDocumentInvalid(f"{where}: {location}: {first.message}")
    if content["key"] != path.parent.name or content["version"] != int(match.group(1)):
        raise ConsentDocumentInvalid(f"{where}: key and version must match the folder and file name")
    codes = [p["code"] for p in content["purposes"]]
    if len(codes) != len(set(codes)):
        raise ConsentDocumentInvalid(f"{where}: a purpose code appears twice")
    if not any(p["required"] for p in content["purposes"]):
        raise ConsentDocumentInvalid(f"{where}: at least one purpose must be required to take part")
    if content["version"] == 1 and content["change"] != "major":
        raise ConsentDocumentInvalid(f"{where}: the first version is a major change")
    loaded: dict[str, Any] = content
    return loaded


@dataclass(frozen=True)
class PublishResult:
    key: str
    version: int
    status: str  # published | unchanged


def publish_documents(directory: Path | None = None) -> list[PublishResult]:
    """Publish every ``<key>/v<N>.yaml`` under ``directory`` not yet published, in version order.

    A version already published with the same content is left alone; with other content it is
    refused (:class:`ConsentDocumentChanged`). Versions are numbered without gaps, and a minor
    version asks about the same purposes, equally required, as the version before it.
    """
    directory = directory or CONSENT_DIR
    contents = [load_document_file(path) for path in directory.glob("*/v*.yaml")]
    results: list[PublishResult] = []
    for content in sorted(contents, key=lambda c: (c["key"], c["version"])):
        key, version, digest = content["key"], content["version"], content_hash(content)
        existing = _document(key, version)
        if existing is not None:
            if existing.content_hash != digest:
                raise ConsentDocumentChanged(
                    f"{key} v{version} was published with other content; publish the change as a new version."
                )
            results.append(PublishResult(key, version, "unchanged"))
            continue
        previous = _document(key, version - 1) if version > 1 else None
        if version > 1 and previous is None:
            raise ConsentDocumentInvalid(f"{key} v{version}: v{version - 1} must be published first")
        if previous is not None and content["change"] == "minor":
            before = {(p["code"], p["required"]) for p in previous.purposes}
            after = {(p["code"], p["required"]) for p in content["purposes"]}
            if before != after:
                raise ConsentDocumentInvalid(
                    f"{key} v{version}: a minor version cannot change the purposes asked about; make it major"
                )
        document = ConsentDocument(
            key=key,
            version=version,
            change_class=content["change"],
            content_hash=digest,
            content=content,
            published_at=clock.now(),
        )
        db.session.add(document)
        db.session.flush()
        audit.record(
            "consent.document_published",
            object_type="consent_document",
            object_id=document.id,
            details={"key": key, "version": version, "change": content["change"]},
        )
        results.append(PublishResult(key, version, "published"))
    return results


def _document(key: str, version: int) -> ConsentDocument | None:
    return db.session.scalar(
        sa.select(ConsentDocument).where(ConsentDocument.key == key, ConsentDocument.version == version)
    )


def document_key() -> str:
    key: str = current_app.config["CONSENT_DOCUMENT"]
    return key


def current_document(at: datetime, key: str | None = None) -> ConsentDocument:
    """The newest version of the consent document published at ``at``."""
    document = _latest_version(key or document_key(), at)
    if document is None:
        raise ConsentDocumentMissing("No consent document has been published; try again later.")
    return document


def _newest(key: Any, at: Any, *columns: Any, major_only: bool = False) -> sa.Select[Any]:
    """The newest version of document ``key`` published by ``at`` (of the major ones, ``major_only``)."""
    query = sa.select(*(columns or (ConsentDocument,))).where(
        ConsentDocument.key == key, ConsentDocument.published_at <= at
    )
    if major_only:
        query = query.where(ConsentDocument.change_class == "major")
    return query.order_by(ConsentDocument.version.desc()).limit(1)


def _latest_version(key: str, at: datetime, *, major_only: bool = False) -> ConsentDocument | None:
    document: ConsentDocument | None = db.session.scalar(_newest(key, at, major_only=major_only))
    return document


# --- age -------------------------------------------------------------------------------------------


def is_of_age(participant: Participant, at: datetime) -> bool:
    """18 or older on the day in Norway (one rule with login: ``participants.services``)."""
    return age_on(participant.birth_date, today_in_oslo(at)) >= AGE_OF_CONSENT


def coming_of_age(participant: Participant) -> datetime:
    """The start (Oslo midnight, as UTC) of the participant's 18th birthday."""
    return datetime.combine(adult_from(participant.birth_date), time(0), tzinfo=OSLO)


# --- the ledger ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Terms:
    """What the rule needs of one published document version. Published versions never change, so
    these are read once per process (:func:`_terms`), not once per question."""

    id: uuid.UUID
    key: str
    version: int
    required_codes: frozenset[str]


_TERMS: dict[uuid.UUID, Terms] = {}


def _terms(document_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, Terms]:
    """The :class:`Terms` of published documents by id, reading only those not seen before."""
    missing = [document_id for document_id in document_ids if document_id not in _TERMS]
    if missing:
        for document in db.session.scalars(sa.select(ConsentDocument).where(ConsentDocument.id.in_(missing))):
            _TERMS[document.id] = Terms(document.id, document.key, document.version, document.required_codes)
    return _TERMS


@dataclass
class Standing:
    """What the ledger says about one participant at one time: their latest decision, and the
    strongest withdrawal made since it (inclusive: when in doubt, do not use the data)."""

    document: Terms | None = None
    decided_at: datetime | None = None
    by_purpose: dict[str, str] = field(default_factory=dict)  # may be shared: read it, never change it
    scope: str | None = None  # the strongest withdrawal in force
    withdrawn_at: datetime | None = None  # ... and when it was made

    @property
    def takes_part(self) -> bool:
        """Has decided, said yes to every required purpose, and has not withdrawn new data or data."""
        document = self.document
        if document is None or self.scope in (NO_NEW_DATA, DELETE_DATA):
            return False
        return all(self.by_purpose.get(code) == "yes" for code in document.required_codes)

    def withdrew(self, scope: str, withdrawn_at: datetime) -> None:
        if self.decided_at is not None and withdrawn_at < self.decided_at:
            return
        if self.scope is None or WITHDRAWAL_SCOPES.index(scope) > WITHDRAWAL_SCOPES.index(self.scope):
            self.scope, self.withdrawn_at = scope, withdrawn_at


def _latest_decisions(
    at: datetime | sa.BindParameter[datetime], *aggregates: sa.ColumnElement[Any]
) -> sa.Select[Any]:
    """One row per participant and submission made by ``at``: ``participant_id``, ``document_id``,
    ``decided_at``, the given aggregates over its decision rows, and ``latest`` (1 on the participant's
    latest submission). Callers restrict it with ``where`` and keep ``latest == 1`` outside it.

    Aggregating first and ranking the submissions after reads the ledger once, in the order of its
    (participant, time, document) index."""
    return (
        sa.select(
            ConsentDecision.participant_id,
            ConsentDecision.document_id,
            ConsentDecision.decided_at,
            *aggregates,
            sa.func.rank()
            .over(partition_by=ConsentDecision.participant_id, order_by=ConsentDecision.decided_at.desc())
            .label("latest"),
        )
        .where(ConsentDecision.decided_at <= at)
        .group_by(ConsentDecision.participant_id, ConsentDecision.decided_at, ConsentDecision.document_id)
    )


def standings(
    at: datetime, participant_ids: Collection[uuid.UUID] | None = None
) -> dict[uuid.UUID, Standing]:
    """:class:`Standing` at ``at`` of the given participants (everyone with a ledger entry when
    ``None``), read in two queries whatever their number. Those with no entry are absent.

    A wave launch or an extract reads the whole roster: one row per participant (their latest
    decisions aggregated on the server), plain rows at Core level, no ORM loading."""
    return _standings(at, None if participant_ids is None else list(participant_ids))


# One submission's decisions as "purpose=decision,...": the string is the key under which equal
# answers are parsed once (:func:`_decisions`).
_PACKED = sa.func.aggregate_strings(ConsentDecision.purpose + "=" + ConsentDecision.decision, ",").label(
    "packed"
)


def _decisions(packed: str) -> dict[str, str]:
    """The decision per purpose of :data:`_PACKED`. Two submissions made at the same instant arrive
    together: a "no" in either holds (as in :func:`reachable_query`)."""
    by_purpose: dict[str, str] = {}
    for pair in packed.split(","):
        code, decision = pair.split("=", 1)
        by_purpose[code] = min(decision, by_purpose.get(code, decision))
    return by_purpose


@bulk_objects()
def _standings(
    at: datetime, participant_ids: Collection[uuid.UUID] | sa.Select[uuid.UUID] | None
) -> dict[uuid.UUID, Standing]:
    """:func:`standings` of a list of participants or of those a query selects."""
    per_submission = _latest_decisions(at, _PACKED)
    withdrawn = sa.select(
        ConsentWithdrawal.participant_id, ConsentWithdrawal.scope, ConsentWithdrawal.withdrawn_at
    ).where(ConsentWithdrawal.withdrawn_at <= at)
    if participant_ids is not None:
        if isinstance(participant_ids, sa.Select):
            per_submission = per_submission.where(ConsentDecision.participant_id.in_(participant_ids))
            withdrawn = withdrawn.where(ConsentWithdrawal.participant_id.in_(participant_ids))
        else:
            per_submission = per_submission.where(db.among(ConsentDecision.participant_id, participant_ids))
            withdrawn = withdrawn.where(db.among(ConsentWithdrawal.participant_id, participant_ids))
    ranked = per_submission.subquery()
    decided_at: Any = ranked.c.decided_at
    if db.is_postgres:  # already aware: skip converting each time to UTC in Python (compared, not shown)
        decided_at = sa.type_coerce(decided_at, sa.DateTime(timezone=True))
    latest = sa.select(ranked.c.participant_id, ranked.c.document_id, decided_at, ranked.c.packed).where(
        ranked.c.latest == 1
    )
    connection = db.session.connection()
    rows = connection.execute(latest).all()
    documents = _terms({document_id for _, document_id, _, _ in rows})
    # The same answers parsed once and shared (most people answer alike; a standing is only read).
    parsed: dict[str, dict[str, str]] = {}
    result: dict[uuid.UUID, Standing] = {}
    for participant_id, document_id, decided_at, packed in rows:
        by_purpose = parsed.get(packed)
        if by_purpose is None:
            by_purpose = parsed[packed] = _decisions(packed)
        result[participant_id] = Standing(documents[document_id], decided_at, by_purpose)
    for participant_id, scope, withdrawn_at in connection.execute(withdrawn).all():
        result.setdefault(participant_id, Standing()).withdrew(scope, withdrawn_at)
    return result


def standing(participant_id: uuid.UUID, at: datetime) -> Standing:
    """The participant's :class:`Standing` at ``at``."""
    return _standing_and_documents(participant_id, at)[0]


_P: sa.BindParameter[uuid.UUID] = sa.bindparam("participant_id")
_AT: sa.BindParameter[datetime] = sa.bindparam("at")
_KEY: sa.BindParameter[str] = sa.bindparam("key")


def _one_standing() -> sa.CompoundSelect[Any]:
    """One participant's ledger and the newest major version, in one round trip (a submission asks
    this on every request), as (kind, document, time, packed decisions or withdrawal scope) rows: the
    latest submission as :func:`standings` reads it, the withdrawals made by ``at``, and the id of the
    newest major version of the current document published by ``at``."""
    ranked = _latest_decisions(_AT, _PACKED).where(ConsentDecision.participant_id == _P).subquery()
    return sa.union_all(
        sa.select(
            sa.literal_column("'decision'").label("kind"),
            ranked.c.document_id,
            ranked.c.decided_at,
            ranked.c.packed,
        ).where(ranked.c.latest == 1),
        sa.select(
            sa.literal_column("'withdrawal'"),
            sa.null(),
            ConsentWithdrawal.withdrawn_at,
            ConsentWithdrawal.scope,
        ).where(ConsentWithdrawal.participant_id == _P, ConsentWithdrawal.withdrawn_at <= _AT),
        sa.select(
            sa.literal_column("'major'"),
            _newest(_KEY, _AT, ConsentDocument.id, major_only=True).scalar_subquery(),
            sa.null(),
            sa.null(),
        ),
    )


_ONE_STANDING = _one_standing()


def _standing_and_documents(participant_id: uuid.UUID, at: datetime) -> tuple[Standing, _Documents]:
    """One participant's :class:`Standing` and the :class:`_Documents` at ``at``, in one round trip."""
    key = document_key()
    rows = db.session.execute(_ONE_STANDING, {"participant_id": participant_id, "at": at, "key": key}).all()
    terms = _terms({document_id for _, document_id, _, _ in rows if document_id is not None})
    now, major = Standing(), None
    withdrawals = []
    for kind, document_id, when, text in rows:
        if kind == "decision":
            now = Standing(terms[document_id], when, _decisions(text))
        elif kind == "withdrawal":
            withdrawals.append((text, when))
        elif document_id is not None:
            major = terms[document_id].version
    for scope, withdrawn_at in withdrawals:  # after the decision: only those made since it count
        now.withdrew(scope, withdrawn_at)
    return now, _Documents(key, major)


def record_decisions(
    participant_id: uuid.UUID,
    document: ConsentDocument,
    decisions: dict[str, str],
    at: datetime,
    evidence: Evidence,
) -> uuid.UUID:
    """Append one submission (a decision per purpose) to the ledger and audit it; returns its batch id.

    No checks: :func:`decide` is the way in for participants.
    """
    batch_id = uuid.uuid4()
    for code in document.purpose_codes:
        db.session.add(
            ConsentDecision(
                participant_id=participant_id,
                document_id=document.id,
                batch_id=batch_id,
                purpose=code,
                decision=decisions[code],
                decided_at=at,
                acr=evidence.acr,
                auth_time=evidence.auth_time,
                session_id=evidence.session_id,
            )
        )
    db.session.flush()
    audit.record(
        "consent.decided",
        actor_kind="participant",
        actor_id=participant_id,
        object_type="consent_document",
        object_id=document.id,
        details={
            "key": document.key,
            "version": document.version,
            "decisions": {code: decisions[code] for code in document.purpose_codes},
            "acr": evidence.acr,
        },
    )
    return batch_id


def decide(
    participant: Participant,
    key: str,
    version: int,
    decisions: dict[str, str],
    evidence: Evidence,
    at: datetime,
) -> Standing:
    """The participant decides on ``key`` v``version``, one ``yes``/``no`` per purpose it asks about.

    Refused under 18 (Oslo calendar day), for a version that is not the current one, and unless
    every purpose of that version, and nothing else, is decided. Deciding again after a withdrawal
    is how a participant re-joins.
    """
    if not is_of_age(participant, at):
        raise ConsentUnderAge("You can decide on consent from the day you turn 18.")
    document = _document(key, version)
    if document is None or document.published_at > at:
        raise ConsentDocumentNotFound(f"There is no consent document {key} v{version}.")
    current = current_document(at, key)
    if key != document_key() or current.version != version:
        raise ConsentVersionOutdated(
            f"{key} v{version} is not the current consent document; decide on {current.key} v{current.version}.",
            current={"key": current.key, "version": current.version},
        )
    errors: dict[str, list[str]] = {}
    for code in document.purpose_codes:
        if code not in decisions:
            errors[code] = ["A decision (yes or no) is needed for this purpose."]
    for code in decisions:
        if code not in document.purpose_codes:
            errors[code] = ["This consent document does not ask about this purpose."]
    if errors:
        raise ValidationFailed({"decisions": errors})
    record_decisions(participant.id, document, decisions, at, evidence)
    return standing(participant.id, at)


def record_withdrawal(
    participant_id: uuid.UUID, scope: str, at: datetime, evidence: Evidence
) -> ConsentWithdrawal:
    """Append a withdrawal to the ledger and audit it. Its effects are applied by the withdrawal domain."""
    if scope not in WITHDRAWAL_SCOPES:
        raise ValidationFailed({"scope": [f"One of {', '.join(WITHDRAWAL_SCOPES)}."]})
    withdrawal = ConsentWithdrawal(
        participant_id=participant_id,
        scope=scope,
        withdrawn_at=at,
        acr=evidence.acr,
        auth_time=evidence.auth_time,
        session_id=evidence.session_id,
    )
    db.session.add(withdrawal)
    db.session.flush()
    audit.record(
        "consent.withdrawn",
        actor_kind="participant",
        actor_id=participant_id,
        object_type="consent_withdrawal",
        object_id=withdrawal.id,
        details={"scope": scope, "acr": evidence.acr},
    )
    return withdrawal


# --- the one question ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Documents:
    """What the published documents say at one time, the same for every participant."""

    key: str
    major_version: int | None


def _documents(at: datetime) -> _Documents:
    key = document_key()
    return _Documents(key, _major_version(key, at))


def _allows_use(now: Standing, purpose: str, documents: _Documents) -> bool:
    """The rule behind :func:`may_use_data`, on a standing: one rule, asked one by one or in bulk."""
    document = now.document
    if document is None or now.scope == DELETE_DATA:
        return False
    if not all(now.by_purpose.get(code) == "yes" for code in document.required_codes):
        return False
    if now.by_purpose.get(purpose) != "yes":
        return False
    if purpose in COLLECTING_PURPOSES:
        if now.scope == NO_NEW_DATA or document.key != documents.key:
            return False
        if documents.major_version is not None and documents.major_version > document.version:
            return False
    return True


def _allows_contact(now: Standing) -> bool:
    """The rule behind :func:`may_contact`, on a standing."""
    if now.scope is not None:
        return False
    document = now.document
    if document is None:
        return True
    return all(now.by_purpose.get(code) == "yes" for code in document.required_codes)


def _verdicts(known: dict[uuid.UUID, Standing], rule: Callable[[Standing], bool]) -> set[uuid.UUID]:
    """Those of ``known`` whose standing passes ``rule``, asked once per distinct standing: the rules
    read only the document, the answers (shared between those who answered alike) and the withdrawal."""
    asked: dict[tuple[int, int, str | None], bool] = {}
    passed = set()
    for pid, now in known.items():
        key = (id(now.document), id(now.by_purpose), now.scope)
        verdict = asked.get(key)
        if verdict is None:
            verdict = asked[key] = rule(now)
        if verdict:
            passed.add(pid)
    return passed


def may_use_data(participant_id: uuid.UUID, purpose: str, at: datetime) -> bool:
    """Whether the participant's data may be used for ``purpose`` at ``at``.

    Yes only if their latest decision at ``at`` says yes to ``purpose`` and to every required
    purpose, and no withdrawal since then rules it out: ``delete_data`` rules out every use,
    ``no_new_data`` rules out collecting (new tasks, submissions), ``no_contact`` no data use.
    Collecting also needs a decision on the newest major version published by ``at``.
    """
    now, documents = _standing_and_documents(participant_id, at)
    return _allows_use(now, purpose, documents)


def participants_allowed(
    purpose: str, at: datetime, participant_ids: Collection[uuid.UUID] | None = None
) -> set[uuid.UUID]:
    """Bulk :func:`may_use_data`: of ``participant_ids`` (everyone when ``None``), those whose data may
    be used for ``purpose`` at ``at``. For large sets pass ``None`` and intersect."""
    documents = _documents(at)
    return _verdicts(standings(at, participant_ids), lambda now: _allows_use(now, purpose, documents))


def participants_reachable(
    purposes: Collection[str], at: datetime, participant_ids: Collection[uuid.UUID] | None = None
) -> set[uuid.UUID]:
    """Bulk, for a wave: those whose data may be used for every one of ``purposes`` at ``at`` and who may be
    contacted (:func:`may_use_data` and :func:`may_contact` together), from one read of the ledger."""
    documents = _documents(at)
    return _verdicts(standings(at, participant_ids), lambda now: _reaches(now, purposes, documents))


def _reaches(now: Standing, purposes: Collection[str], documents: _Documents) -> bool:
    return _allows_contact(now) and all(_allows_use(now, purpose, documents) for purpose in purposes)


def reachable_query(purposes: Collection[str], at: datetime) -> sa.Select[uuid.UUID]:
    """:func:`participants_reachable` of everyone, as a query of participant ids to use inside a statement
    (``IN``, ``INSERT ... SELECT``), so that a wave of any size never carries its ids through Python.

    The rule still runs here, in Python, once per distinct standing rather than once per participant:
    most people share the same latest decision (document and answer per purpose) and have never
    withdrawn. Those are grouped on the server by (document, decision per purpose) and the rule is asked
    once per group; the query then selects the members of the groups it allows. A standing's decision
    time only weighs withdrawals, so everyone with a withdrawal by ``at`` is asked one by one instead."""
    documents = _documents(at)
    codes = sorted(
        {*purposes, *(c for doc in db.session.scalars(sa.select(ConsentDocument)) for c in doc.purpose_codes)}
    )
    withdrew = sa.select(ConsentWithdrawal.participant_id).where(ConsentWithdrawal.withdrawn_at <= at)
    never_withdrew = ConsentDecision.participant_id.not_in(withdrew.scalar_subquery())
    answers = [
        sa.func.min(sa.case((ConsentDecision.purpose == code, ConsentDecision.decision))) for code in codes
    ]
    ranked = _latest_decisions(at, *(a.label(f"d{i}") for i, a in enumerate(answers)))
    groups = ranked.where(never_withdrew).subquery()
    allowed: list[sa.ColumnElement[bool]] = []
    for document_id, *decisions in db.session.connection().execute(
        sa.select(groups.c.document_id, *(groups.c[f"d{i}"] for i in range(len(codes))))
        .where(groups.c.latest <= 1)
        .distinct()
    ):
        by_purpose = {code: d for code, d in zip(codes, decisions, strict=True) if d is not None}
        document = _terms({document_id})[document_id]
        if _reaches(Standing(document, None, by_purpose), purposes, documents):
            allowed.append(
                sa.and_(
                    ConsentDecision.document_id == document_id,
                    *(a.is_(None) if d is None else a == d for a, d in zip(answers, decisions, strict=True)),
                )
            )
    # The group test is a column, and "latest <= 1" an inequality, so that the planner does not multiply
    # the selectivities of every answer into an estimate of one row (and a nested loop over the roster).
    in_allowed_group = sa.case((sa.or_(sa.false(), *allowed), sa.true()), else_=sa.false()).label("allowed")
    members = _latest_decisions(at, in_allowed_group).where(never_withdrew).subquery()
    query = sa.select(members.c.participant_id).where(members.c.latest <= 1, members.c.allowed)
    rejoined = sorted(
        pid for pid, now in _standings(at, withdrew).items() if _reaches(now, purposes, documents)
    )
    if rejoined:
        ids: sa.BindParameter[list[uuid.UUID]] = sa.bindparam(
            "rejoined", rejoined, expanding=True, literal_execute=True, unique=True
        )
        return (
            sa.union_all(query, sa.select(Participant.id).where(Participant.id.in_(ids))).subquery().select()
        )
    return query


def may_contact(participant_id: uuid.UUID, at: datetime) -> bool:
    """Whether the participant may be contacted (reminders, messages) at ``at``.

    No after any withdrawal (until they consent again) and after declining to take part; yes
    before a first decision, so that they can be asked to decide.
    """
    return _allows_contact(standing(participant_id, at))


def participants_contactable(at: datetime, participant_ids: Collection[uuid.UUID]) -> set[uuid.UUID]:
    """Bulk :func:`may_contact` over ``participant_ids`` (those with no ledger entry may be contacted)."""
    known = standings(at, participant_ids)
    return {pid for pid in participant_ids if _allows_contact(known.get(pid, Standing()))}


def require_data_use(participant_id: uuid.UUID, purpose: str, at: datetime) -> None:
    """Raise :class:`ConsentRequired` unless :func:`may_use_data`."""
    if not may_use_data(participant_id, purpose, at):
        raise ConsentRequired(
            f"Your consent does not cover '{purpose}'. Decide on the current consent first."
        )


@dataclass
class ExportFilter:
    """Which data may go into an extract made at ``at`` for a set of purposes (see :func:`may_export`).

    Built once per extract from the whole ledger, then asked per answer without further queries."""

    at: datetime
    allowed: set[uuid.UUID]
    decision_times: dict[uuid.UUID, list[datetime]]
    withdrawals: dict[uuid.UUID, list[tuple[datetime, str]]]

    def allows(self, participant_id: uuid.UUID, given_at: datetime) -> bool:
        """Data the participant gave at ``given_at``: allowed now, not given while new data was
        withdrawn, and no ``delete_data`` withdrawal since (re-joining never brings it back)."""
        if participant_id not in self.allowed:
            return False
        if participant_id not in self.withdrawals:  # nothing withdrawn, ever: allowed now is the answer
            return True
        times = self.decision_times.get(participant_id, [])
        position = bisect.bisect_right(times, given_at)
        then = Standing(decided_at=times[position - 1] if position else None)
        for withdrawn_at, scope in self.withdrawals.get(participant_id, []):
            if withdrawn_at <= given_at:
                then.withdrew(scope, withdrawn_at)
            elif scope == DELETE_DATA and withdrawn_at <= self.at:
                return False
        return then.scope not in (NO_NEW_DATA, DELETE_DATA)


@bulk_objects()
def export_filter(
    purposes: Collection[str], at: datetime, participant_ids: Collection[uuid.UUID] | None = None
) -> ExportFilter:
    """The :class:`ExportFilter` for an extract at ``at`` needing every one of ``purposes``."""
    documents = _documents(at)
    allowed = _verdicts(
        standings(at, participant_ids),
        lambda now: all(_allows_use(now, purpose, documents) for purpose in purposes),
    )
    withdrawn = sa.select(
        ConsentWithdrawal.participant_id, ConsentWithdrawal.withdrawn_at, ConsentWithdrawal.scope
    ).where(ConsentWithdrawal.withdrawn_at <= at)
    if participant_ids is not None:
        withdrawn = withdrawn.where(ConsentWithdrawal.participant_id.in_(participant_ids))
    connection = db.session.connection()
    withdrawals: dict[uuid.UUID, list[tuple[datetime, str]]] = {}
    for participant_id, withdrawn_at, scope in connection.execute(withdrawn).all():
        withdrawals.setdefault(participant_id, []).append((withdrawn_at, scope))
    # Decision times only matter to weigh a withdrawal against them: read them for those who withdrew.
    times: dict[uuid.UUID, list[datetime]] = {}
    if withdrawals:
        decided = (
            sa.select(ConsentDecision.participant_id, ConsentDecision.decided_at)
            .where(
                ConsentDecision.decided_at <= at,
                ConsentDecision.participant_id.in_(
                    sa.select(ConsentWithdrawal.participant_id).where(ConsentWithdrawal.withdrawn_at <= at)
                ),
            )
            .distinct()
            .order_by(ConsentDecision.participant_id, ConsentDecision.decided_at)
        )
        if participant_ids is not None:
            decided = decided.where(ConsentDecision.participant_id.in_(participant_ids))
        for participant_id, decided_at in connection.execute(decided).all():
            times.setdefault(participant_id, []).append(decided_at)
    return ExportFilter(at, allowed, times, withdrawals)


def may_export(participant_id: uuid.UUID, purpose: str, given_at: datetime, at: datetime) -> bool:
    """Whether data the participant gave at ``given_at`` may go into an extract for ``purpose`` at ``at``.

    :func:`may_use_data` at ``at``, and the data was not given while new data was withdrawn, and
    no ``delete_data`` withdrawal came after it: re-joining never brings earlier data back.
    """
    return export_filter([purpose], at, [participant_id]).allows(participant_id, given_at)


def decision_required(participant: Participant, at: datetime) -> bool:
    """Whether the participant must decide now: of age, not withdrawn from new data, and either
    never decided or last decided before the newest major version (those who declined are not asked)."""
    if not is_of_age(participant, at):
        return False
    key = document_key()
    return _must_decide(standing(participant.id, at), key, _latest_version(key, at), _major_version(key, at))


def _major_version(key: str, at: datetime) -> int | None:
    major = _latest_version(key, at, major_only=True)
    return major.version if major else None


def _must_decide(now: Standing, key: str, current: ConsentDocument | None, major_version: int | None) -> bool:
    if current is None or now.scope in (NO_NEW_DATA, DELETE_DATA):
        return False
    document = now.document
    if document is None:
        return True
    if not now.takes_part:
        return False
    return document.key != key or (major_version is not None and major_version > document.version)


# --- reading the ledger ----------------------------------------------------------------------------


def history(participant_id: uuid.UUID) -> list[tuple[ConsentDocument, list[ConsentDecision]]]:
    """Every submission, newest first, with the document version it was made on."""
    rows = db.session.scalars(
        sa.select(ConsentDecision)
        .where(ConsentDecision.participant_id == participant_id)
        .order_by(ConsentDecision.decided_at.desc(), ConsentDecision.batch_id)
    )
    batches: dict[uuid.UUID, list[ConsentDecision]] = {}
    for row in rows:
        batches.setdefault(row.batch_id, []).append(row)
    out = []
    for decisions in batches.values():
        order = decisions[0].document.purpose_codes
        decisions.sort(key=lambda d: order.index(d.purpose))
        out.append((decisions[0].document, decisions))
    return out


def withdrawals(participant_id: uuid.UUID) -> list[ConsentWithdrawal]:
    """Every withdrawal, newest first."""
    return list(
        db.session.scalars(
            sa.select(ConsentWithdrawal)
            .where(ConsentWithdrawal.participant_id == participant_id)
            .order_by(ConsentWithdrawal.withdrawn_at.desc())
        )
    )


def summary(at: datetime) -> dict[str, Any]:
    """Counts per document version, purpose and decision (each participant's latest decision), how
    many have a withdrawal in force per scope, and how many must still decide on the current version."""
    key = document_key()
    current = _latest_version(key, at)
    standings_now = standings(at)
    tally: Counter[tuple[str, int, str, str]] = Counter(
        (now.document.key, now.document.version, purpose, decision)
        for now in standings_now.values()
        if now.document is not None
        for purpose, decision in now.by_purpose.items()
    )
    counts = sorted(tally.items())
    withdrawn: dict[str, int] = dict.fromkeys(WITHDRAWAL_SCOPES, 0)
    for now in standings_now.values():
        if now.scope:
            withdrawn[now.scope] += 1
    major_version = _major_version(key, at)
    must_decide = 0
    roster = db.session.execute(sa.select(Participant.id, Participant.birth_date)).all()
    today = today_in_oslo(at)
    for participant_id, birth_date in roster:
        if age_on(birth_date, today) >= AGE_OF_CONSENT and _must_decide(
            standings_now.get(participant_id, Standing()), key, current, major_version
        ):
            must_decide += 1
    return {
        "document_key": key,
        "current_version": current.version if current else None,
        "counts": [
            {"key": k, "version": v, "purpose": p, "decision": d, "participants": n}
            for (k, v, p, d), n in counts
        ],
        "withdrawn": withdrawn,
        "must_decide": must_decide,
        "participants": len(roster),
    }


# --- what the participant sees ---------------------------------------------------------------------


def document_view(document: ConsentDocument) -> dict[str, Any]:
    content = document.content
    return {
        "key": document.key,
        "version": document.version,
        "change": document.change_class,
        "change_note": content.get("change_note"),
        "published_at": document.published_at,
        "content_hash": document.content_hash,
        "title": content["title"],
        "text": content["text"],
        "purposes": [
            {
                "code": p["code"],
                "required": p["required"],
                "duo": p.get("duo"),
                "title": p["title"],
                "explanation": p["explanation"],
            }
            for p in content["purposes"]
        ],
    }


def state_view(participant: Participant, at: datetime) -> dict[str, Any]:
    """``GET /v1/me/consents``: the current document and where the participant stands on it."""
    current = current_document(at)
    now = standing(participant.id, at)
    decided = now.document
    same_key = decided is not None and decided.key == current.key
    by_purpose = now.by_purpose if same_key else {}
    change: str | None = None
    if decided is not None:
        change = "major"  # a decision on another document counts as outdated by a major change
        if same_key:
            newer = db.session.scalars(
                sa.select(ConsentDocument.change_class).where(
                    ConsentDocument.key == current.key,
                    ConsentDocument.version > decided.version,
                    ConsentDocument.published_at <= at,
                )
            ).all()
            change = "major" if "major" in newer else "minor" if newer else "none"
    return {
        "document": document_view(current),
        "purposes": [
            {"code": p["code"], "required": p["required"], "decision": by_purpose.get(p["code"])}
            for p in current.purposes
        ],
        "decided_version": decided.version if same_key and decided else None,
        "decided_at": now.decided_at,
        "change_since_decision": change,
        "decision_required": decision_required(participant, at),
        "can_decide": is_of_age(participant, at),
        "withdrawal": {"scope": now.scope, "withdrawn_at": now.withdrawn_at} if now.scope else None,
    }


def history_view(participant_id: uuid.UUID) -> list[dict[str, Any]]:
    """``GET /v1/me/consents/history``: every submission, newest first, with the text it was made on."""
    return [
        {
            "batch_id": decisions[0].batch_id,
            "decided_at": decisions[0].decided_at,
            "acr": decisions[0].acr,
            "auth_time": decisions[0].auth_time,
            "document": document_view(document),
            "decisions": [{"purpose": d.purpose, "decision": d.decision} for d in decisions],
        }
        for document, decisions in history(participant_id)
    ]


def withdrawals_view(participant_id: uuid.UUID) -> list[dict[str, Any]]:
    return [
        {"id": w.id, "scope": w.scope, "withdrawn_at": w.withdrawn_at, "acr": w.acr}
        for w in withdrawals(participant_id)
    ]


def decision_counts(at: datetime, among: sa.Select[Any] | None = None) -> dict[str, dict[str, int]]:
    """Per purpose, how many participants' latest decision at ``at`` is yes and how many no, counted in
    SQL from each participant's latest submission (a "no" in two submissions of the same instant holds);
    ``among``: only the participants this query of ids selects."""
    latest_submissions = _latest_decisions(at)
    if among is not None:
        latest_submissions = latest_submissions.where(ConsentDecision.participant_id.in_(among))
    ranked = latest_submissions.subquery()
    latest = (
        sa.select(
            ConsentDecision.participant_id,
            ConsentDecision.purpose,
            sa.func.min(ConsentDecision.decision).label("decision"),
        )
        .join(
            ranked,
            sa.and_(
                ranked.c.participant_id == ConsentDecision.participant_id,
                ranked.c.decided_at == ConsentDecision.decided_at,
                ranked.c.document_id == ConsentDecision.document_id,
            ),
        )
        .where(ranked.c.latest == 1)
        .group_by(ConsentDecision.participant_id, ConsentDecision.purpose)
        .subquery()
    )
    counts: dict[str, dict[str, int]] = {}
    for purpose, decision, n in db.session.execute(
        sa.select(latest.c.purpose, latest.c.decision, sa.func.count()).group_by(
            latest.c.purpose, latest.c.decision
        )
    ):
        counts.setdefault(purpose, {"yes": 0, "no": 0})[decision] = int(n)
    return counts


def withdrawal_counts(at: datetime) -> dict[str, int]:
    """Per withdrawal scope, how many participants have withdrawn with it by ``at`` (counted in SQL)."""
    counts = dict.fromkeys(WITHDRAWAL_SCOPES, 0)
    for scope, n in db.session.execute(
        sa.select(ConsentWithdrawal.scope, sa.func.count(sa.distinct(ConsentWithdrawal.participant_id)))
        .where(ConsentWithdrawal.withdrawn_at <= at)
        .group_by(ConsentWithdrawal.scope)
    ):
        counts[scope] = int(n)
    return counts
