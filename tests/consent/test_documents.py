"""Consent documents: versioned files, published once, immutable, checked."""

import shutil

import pytest
import sqlalchemy as sa
import yaml

from engagement import clock
from engagement.consent import documents
from engagement.consent.models import ConsentDocument, ConsentLedgerViolation
from engagement.extensions import db
from tests.consent.helpers import SEED, publish_version

pytestmark = pytest.mark.usefixtures("app_ctx")


def test_seed_document_asks_about_every_purpose_in_three_languages():
    document = documents.current_document(clock.now())
    assert (document.key, document.version, document.change_class) == ("moba-at-18", 1, "major")
    assert document.purpose_codes == [
        "participation",
        "questionnaires",
        "registry_linkage",
        "biobank",
        "recontact_substudies",
        "international_sharing",
    ]
    assert document.required_codes == {"participation"}
    for texts in [document.content["title"], document.content["text"]] + [
        p["explanation"] for p in document.purposes
    ]:
        assert set(texts) == {"nb", "nn", "en"} and all(texts.values())
    assert {p["code"]: p["duo"] for p in document.purposes}["biobank"] == "DUO:0000006"


def test_publishing_the_same_files_again_changes_nothing():
    before = db.session.scalar(sa.select(sa.func.count()).select_from(ConsentDocument))
    results = documents.publish_documents()
    assert [(r.key, r.version, r.status) for r in results] == [("moba-at-18", 1, "unchanged")]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ConsentDocument)) == before


def test_a_published_version_whose_file_changed_is_refused(tmp_path):
    folder = tmp_path / "moba-at-18"
    folder.mkdir()
    content = yaml.safe_load((SEED / "v1.yaml").read_text())
    content["text"]["en"] += "\nOne more sentence."
    (folder / "v1.yaml").write_text(yaml.safe_dump(content, allow_unicode=True))
    with pytest.raises(documents.ConsentDocumentChanged):
        documents.publish_documents(tmp_path)


def test_reformatting_a_published_file_is_not_a_change(tmp_path):
    folder = tmp_path / "moba-at-18"
    folder.mkdir()
    content = yaml.safe_load((SEED / "v1.yaml").read_text())
    (folder / "v1.yaml").write_text(yaml.safe_dump(content, allow_unicode=True, width=60, sort_keys=True))
    assert documents.publish_documents(tmp_path)[0].status == "unchanged"


def test_a_minor_version_cannot_change_the_purposes(tmp_path):
    seed = yaml.safe_load((SEED / "v1.yaml").read_text())
    with pytest.raises(documents.ConsentDocumentInvalid, match="minor"):
        publish_version(tmp_path, 2, "minor", purposes=seed["purposes"][:-1])


def test_a_major_version_may_change_the_purposes(tmp_path):
    seed = yaml.safe_load((SEED / "v1.yaml").read_text())
    publish_version(tmp_path, 2, "major", purposes=seed["purposes"][:-1])
    assert documents.current_document(clock.now()).version == 2


def test_versions_have_no_gaps(tmp_path):
    folder = tmp_path / "moba-at-18"
    folder.mkdir()
    shutil.copy(SEED / "v1.yaml", folder / "v1.yaml")
    content = yaml.safe_load((SEED / "v1.yaml").read_text()) | {"version": 3, "change": "minor"}
    (folder / "v3.yaml").write_text(yaml.safe_dump(content, allow_unicode=True))
    with pytest.raises(documents.ConsentDocumentInvalid, match="v2 must be published first"):
        documents.publish_documents(tmp_path)


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda c: c["text"].pop("nn"), "'nn' is a required property"),
        (lambda c: c.update(change="cosmetic"), "change"),
        (lambda c: c["purposes"][0].update(duo="HMB"), "duo"),
        (lambda c: c["purposes"][0].update(required=False), "at least one purpose must be required"),
        (lambda c: c["purposes"].append(dict(c["purposes"][1])), "appears twice"),
        (lambda c: c.update(version=2), "must match the folder and file name"),
    ],
)
def test_invalid_consent_files_are_refused_with_the_reason(tmp_path, edit, message):
    folder = tmp_path / "moba-at-18"
    folder.mkdir()
    content = yaml.safe_load((SEED / "v1.yaml").read_text())
    edit(content)
    (folder / "v1.yaml").write_text(yaml.safe_dump(content, allow_unicode=True))
    with pytest.raises(documents.ConsentDocumentInvalid, match=message):
        documents.publish_documents(tmp_path)


def test_published_documents_are_never_changed_in_place():
    document = documents.current_document(clock.now())
    document.content = {**document.content, "title": {"nb": "x", "nn": "x", "en": "x"}}
    with pytest.raises(ConsentLedgerViolation):
        db.session.flush()
    db.session.rollback()


def test_cli_publishes_and_reports_each_version(app, tmp_path):
    publish_dir = tmp_path / "consent"
    (publish_dir / "moba-at-18").mkdir(parents=True)
    shutil.copy(SEED / "v1.yaml", publish_dir / "moba-at-18" / "v1.yaml")
    result = app.test_cli_runner().invoke(args=["consent", "publish", str(publish_dir)])
    assert result.exit_code == 0, result.output
    assert "consent moba-at-18 v1: unchanged" in result.output


def test_cli_refuses_a_changed_file_with_a_message(app, tmp_path):
    folder = tmp_path / "moba-at-18"
    folder.mkdir()
    content = yaml.safe_load((SEED / "v1.yaml").read_text())
    content["title"]["nb"] = "Endret"
    (folder / "v1.yaml").write_text(yaml.safe_dump(content, allow_unicode=True))
    result = app.test_cli_runner().invoke(args=["consent", "publish", str(tmp_path)])
    assert result.exit_code != 0
    assert "new version" in result.output
