"""Consent documents: loading ``<key>/v<N>.yaml`` files, publishing them as immutable versions, and
finding the version in force at a time (the current one, the newest major one, the changes since one).

The purpose codes other domains refer to are those of the seed document; the terms the rules need of
a published version (:class:`Terms`) are read once per process, since a published version never changes.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import sqlalchemy as sa
import yaml
from flask import current_app

from engagement import audit, clock
from engagement.config import PROJECT_ROOT
from engagement.consent.models import ConsentDocument
from engagement.extensions import db
from engagement.problems import BadRequest, Conflict, NotFound, ServiceUnavailable
from engagement.versioned import FILE_NAME_RULE, content_hash, version_files, version_in_name

# Purpose codes of the seed consent document; other domains refer to purposes by these codes.
PARTICIPATION = "participation"
QUESTIONNAIRES = "questionnaires"
REGISTRY_LINKAGE = "registry_linkage"
BIOBANK = "biobank"
RECONTACT = "recontact_substudies"
INTERNATIONAL_SHARING = "international_sharing"

CONSENT_DIR = PROJECT_ROOT / "questionnaires" / "consent"


class ConsentDocumentNotFound(NotFound):
    slug, title = "consent-document-not-found", "No such consent document version"


class ConsentDocumentMissing(ServiceUnavailable):
    slug, title = "consent-document-missing", "No consent document has been published yet"


class ConsentDocumentChanged(Conflict):
    slug, title = "consent-document-changed", "A published consent document version cannot change"


class ConsentDocumentInvalid(BadRequest):
    slug, title = "consent-document-invalid", "The consent document file is not valid"


# --- files and publishing --------------------------------------------------------------------------


@cache
def _document_schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((CONSENT_DIR / "consent-document.schema.json").read_text())
    return schema


def load_document_file(path: Path) -> dict[str, Any]:
    """Parse and check one ``<key>/v<N>.yaml`` file (schema, name, unique purposes, a required one)."""
    where = f"{path.parent.name}/{path.name}"
    version = version_in_name(path)
    if version is None:
        raise ConsentDocumentInvalid(f"{where}: a consent file is named {FILE_NAME_RULE}")
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
    if content["key"] != path.parent.name or content["version"] != version:
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
    contents = [load_document_file(path) for path in version_files(directory)]
    results: list[PublishResult] = []
    for content in sorted(contents, key=lambda c: (c["key"], c["version"])):
        key, version, digest = content["key"], content["version"], content_hash(content)
        existing = find_document(key, version)
        if existing is not None:
            if existing.content_hash != digest:
                raise ConsentDocumentChanged(
                    f"{key} v{version} was published with other content; publish the change as a new version."
                )
            results.append(PublishResult(key, version, "unchanged"))
            continue
        previous = find_document(key, version - 1) if version > 1 else None
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


# --- the version in force --------------------------------------------------------------------------


def find_document(key: str, version: int) -> ConsentDocument | None:
    """Version ``version`` of document ``key``, published or not yet."""
    return db.session.scalar(
        sa.select(ConsentDocument).where(ConsentDocument.key == key, ConsentDocument.version == version)
    )


def document_key() -> str:
    """The key of the document participants decide on (``ENGAGEMENT_CONSENT_DOCUMENT``)."""
    key: str = current_app.config["CONSENT_DOCUMENT"]
    return key


def current_document(at: datetime, key: str | None = None) -> ConsentDocument:
    """The newest version of the consent document published at ``at``."""
    document = latest_version(key or document_key(), at)
    if document is None:
        raise ConsentDocumentMissing("No consent document has been published; try again later.")
    return document


def newest(key: Any, at: Any, *columns: Any, major_only: bool = False) -> sa.Select[Any]:
    """The newest version of document ``key`` published by ``at`` (of the major ones, ``major_only``),
    as a query of ``columns`` (the document when none); ``key`` and ``at`` may be bound parameters."""
    query = sa.select(*(columns or (ConsentDocument,))).where(
        ConsentDocument.key == key, ConsentDocument.published_at <= at
    )
    if major_only:
        query = query.where(ConsentDocument.change_class == "major")
    return query.order_by(ConsentDocument.version.desc()).limit(1)


def latest_version(key: str, at: datetime, *, major_only: bool = False) -> ConsentDocument | None:
    """The newest version of ``key`` published by ``at`` (of the major ones, ``major_only``), if any."""
    document: ConsentDocument | None = db.session.scalar(newest(key, at, major_only=major_only))
    return document


def major_version(key: str, at: datetime) -> int | None:
    """The number of the newest major version of ``key`` published by ``at``."""
    major = latest_version(key, at, major_only=True)
    return major.version if major else None


def change_since(key: str, version: int, at: datetime) -> str:
    """The largest change to ``key`` published after ``version`` by ``at``: major, minor or none."""
    newer = db.session.scalars(
        sa.select(ConsentDocument.change_class).where(
            ConsentDocument.key == key,
            ConsentDocument.version > version,
            ConsentDocument.published_at <= at,
        )
    ).all()
    return "major" if "major" in newer else "minor" if newer else "none"


@dataclass(frozen=True)
class Published:
    """What the published documents say at one time, the same for every participant: the key of the
    document participants decide on, and its newest major version."""

    key: str
    major_version: int | None


def published(at: datetime) -> Published:
    key = document_key()
    return Published(key, major_version(key, at))


# --- the terms of a version, cached ----------------------------------------------------------------


@dataclass(frozen=True)
class Terms:
    """What the rules need of one published document version. Published versions never change, so
    these are read once per process (:func:`terms`), not once per question."""

    id: uuid.UUID
    key: str
    version: int
    required_codes: frozenset[str]


_TERMS: dict[uuid.UUID, Terms] = {}


def terms(document_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, Terms]:
    """The :class:`Terms` of published documents by id, reading only those not seen before."""
    missing = [document_id for document_id in document_ids if document_id not in _TERMS]
    if missing:
        for document in db.session.scalars(sa.select(ConsentDocument).where(ConsentDocument.id.in_(missing))):
            _TERMS[document.id] = Terms(document.id, document.key, document.version, document.required_codes)
    return _TERMS
