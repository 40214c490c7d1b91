"""Helpers for consent tests: publish further versions of the seed document, decide over HTTP."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import yaml

from engagement.consent import documents
from engagement.consent.documents import (
    BIOBANK,
    INTERNATIONAL_SHARING,
    PARTICIPATION,
    QUESTIONNAIRES,
    RECONTACT,
    REGISTRY_LINKAGE,
)
from engagement.extensions import db

SEED = documents.CONSENT_DIR / "moba-at-18"


def publish_version(tmp_path: Path, version: int, change: str, **edits: Any) -> None:
    """Publish ``moba-at-18`` v``version`` (earlier versions copied from the seed or made here)."""
    folder = tmp_path / "consent" / "moba-at-18"
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(SEED / "v1.yaml", folder / "v1.yaml")
    previous = folder / f"v{version - 1}.yaml"
    content = yaml.safe_load(previous.read_text())
    content.update(version=version, change=change)
    content["title"] = {lang: f"{text} ({version})" for lang, text in content["title"].items()}
    content.update(edits)
    (folder / f"v{version}.yaml").write_text(yaml.safe_dump(content, allow_unicode=True))
    documents.publish_documents(tmp_path / "consent")
    db.session.commit()  # into the test's transaction, so that requests see it


def all_yes(**overrides: str) -> dict[str, str]:
    codes = [
        PARTICIPATION,
        QUESTIONNAIRES,
        REGISTRY_LINKAGE,
        BIOBANK,
        RECONTACT,
        INTERNATIONAL_SHARING,
    ]
    return {code: overrides.get(code, "yes") for code in codes}


def decide(client: Any, headers: dict[str, str], version: int = 1, **overrides: str) -> Any:
    return client.post(
        "/v1/me/consents",
        json={"document_key": "moba-at-18", "version": version, "decisions": all_yes(**overrides)},
        headers=headers,
    )
