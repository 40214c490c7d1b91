"""Consent documents and questionnaires are published from files under one name rule, v<N>.yaml: a file
meant as a version under another name is reported by either publisher, never passed over."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from engagement.config import PROJECT_ROOT
from engagement.consent import documents
from engagement.questionnaires import versions as qversions
from engagement.versioned import content_hash, version_files, version_in_name


@pytest.mark.parametrize(
    "name, version",
    [
        ("v1.yaml", 1),
        ("v12.yaml", 12),
        ("v01.yaml", None),
        ("v0.yaml", None),
        ("v1.yml", None),
        ("1.yaml", None),
    ],
)
def test_a_version_file_is_named_v_n_yaml(name, version):
    assert version_in_name(Path("key", name)) == version


def test_version_files_come_by_key_and_number_with_misnamed_ones_listed_last(tmp_path):
    for name in ("a/v10.yaml", "a/v2.yaml", "a/v1.yml", "b/v1.yaml", "consent/v1.yaml", "a/notes.yaml"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text("{}")
    listed = [str(p.relative_to(tmp_path)) for p in version_files(tmp_path, skip_folders={"consent"})]
    assert listed == ["a/v2.yaml", "a/v10.yaml", "a/v1.yml", "b/v1.yaml"]


def test_the_content_hash_ignores_key_order_and_sees_every_change():
    assert content_hash({"a": 1, "b": "æ"}) == content_hash({"b": "æ", "a": 1})
    assert content_hash({"a": 1}) != content_hash({"a": 2})


def test_a_consent_document_named_yml_is_refused_not_skipped(app_ctx, tmp_path):
    folder = tmp_path / "moba-at-18"
    folder.mkdir()
    shutil.copy(PROJECT_ROOT / "questionnaires/consent/moba-at-18/v1.yaml", folder / "v1.yml")
    with pytest.raises(documents.ConsentDocumentInvalid, match=r"named v<N>\.yaml"):
        documents.publish_documents(tmp_path)


def test_a_questionnaire_named_yml_is_reported(tmp_path):
    (tmp_path / "ung18").mkdir()
    shutil.copy(PROJECT_ROOT / "questionnaires/ung18/v1.yaml", tmp_path / "ung18/v1.yml")
    problems = qversions.check_folder(tmp_path).problems
    assert [p.reason for p in problems] == ["file name must be v<N>.yaml"]
