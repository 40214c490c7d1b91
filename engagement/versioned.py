"""Published versions are immutable files: the one file-name rule and the one content hash.

Consent documents and questionnaires are both published from ``<key>/v<N>.yaml`` files (``N`` from 1, no
leading zero); a version's content hash (SHA-256 of its canonical JSON) tells an edit, which is refused
once published, from a reformatting, which is no change.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Collection
from pathlib import Path
from typing import Any

FILE_NAME_RULE = "v<N>.yaml"
_FILE_NAME = re.compile(r"^v([1-9][0-9]*)\.yaml$")


def content_hash(content: Any) -> str:
    """SHA-256 (hex) of ``content`` as canonical JSON: sorted keys, no spaces, UTF-8."""
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def version_in_name(path: Path) -> int | None:
    """The version ``N`` of a file named ``v<N>.yaml``, or ``None`` when the name breaks the rule."""
    match = _FILE_NAME.match(path.name)
    return int(match.group(1)) if match else None


def version_files(folder: Path, *, skip_folders: Collection[str] = ()) -> list[Path]:
    """Every file in ``folder/<key>/`` that is meant to be a version (``v*.yaml`` or ``v*.yml``), by key
    and version. A name that breaks the rule is listed too (last in its folder), so that the publisher
    reports it instead of passing over it."""
    files = [p for p in folder.glob("*/v*.y*ml") if p.parent.name not in skip_folders]
    return sorted(files, key=_order)


def _order(path: Path) -> tuple[str, bool, int, str]:
    version = version_in_name(path)
    return path.parent.name, version is None, version or 0, path.name
