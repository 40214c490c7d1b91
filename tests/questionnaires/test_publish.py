"""Publishing definition files into immutable versions, and the questionnaires CLI."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from engagement.extensions import db
from engagement.questionnaires import definition as qdef
from engagement.questionnaires import services
from engagement.questionnaires.models import ImmutableRecordChanged, QuestionnaireVersion
from engagement.versioned import content_hash
from tests.questionnaires.conftest import SEED_FOLDER, TINY, t, tiny, write_definition


def test_publish_loads_new_versions_with_their_content_hash(app_ctx, tiny_folder):
    rows = services.publish_all(tiny_folder)
    assert [(r.key, r.version) for r in rows] == [("tiny", 1)]
    assert rows[0].content_hash == content_hash(qdef.normalise(TINY))
    assert rows[0].consent_purpose == "questionnaires"
    assert services.publish_all(tiny_folder) == []  # nothing new the second time


def test_consent_purpose_comes_from_the_definition(app_ctx, tmp_path):
    write_definition(tmp_path, tiny(key="linkage", consent_purpose="registry_linkage"))
    (row,) = services.publish_all(tmp_path)
    assert row.consent_purpose == "registry_linkage"


def test_a_file_that_differs_from_its_published_version_is_refused_naming_the_version(app_ctx, tiny_folder):
    services.publish_all(tiny_folder)
    write_definition(tiny_folder, tiny(title=t("Edited after publishing")))
    write_definition(tiny_folder, tiny(version=2, version_label="TINY_B"))
    with pytest.raises(services.PublishRefused) as caught:
        services.publish_all(tiny_folder)
    assert "differs from the published version tiny v1" in str(caught.value)
    assert [p.file for p in caught.value.problems] == ["tiny/v1.yaml"]
    versions = db.session.scalars(sa.select(QuestionnaireVersion.version)).all()
    assert versions == [1]  # v2 was not published either


def test_a_removed_file_does_not_remove_its_version(app_ctx, tiny_folder):
    services.publish_all(tiny_folder)
    (tiny_folder / "tiny" / "v1.yaml").unlink()
    assert services.publish_all(tiny_folder) == []
    assert services.get_version("tiny", 1).definition["key"] == "tiny"


def test_lineage_may_refer_to_a_published_version_whose_file_is_gone(app_ctx, tiny_folder):
    services.publish_all(tiny_folder)
    (tiny_folder / "tiny" / "v1.yaml").unlink()
    v2 = tiny(version=2, version_label="TINY_B")
    v2["sections"][0]["items"][9].update(name="TT22_TEKST", same_as="TT21_TEKST")
    write_definition(tiny_folder, v2)
    assert [r.version for r in services.publish_all(tiny_folder)] == [2]


def test_published_versions_never_change(app_ctx, tiny_folder):
    (row,) = services.publish_all(tiny_folder)
    row.content_hash = "0" * 64
    with pytest.raises(ImmutableRecordChanged):
        db.session.flush()
    db.session.rollback()


def test_seed_questionnaires_publish(app_ctx):
    rows = services.publish_all(SEED_FOLDER)
    assert [(r.key, r.version, r.version_label) for r in rows] == [
        ("ung18", 1, "UNG18_A"),
        ("ung18", 2, "UNG18_B"),
    ]
    assert [v.version for v in services.latest_versions()] == [2]


# ------------------------------------------------------------------------------ CLI


def test_cli_check_prints_each_problem_with_file_item_and_reason(app, tiny_folder):
    broken = tiny(key="broken")
    broken["sections"][0]["items"][0]["options"][1]["code"] = 1
    write_definition(tiny_folder, broken)
    result = app.test_cli_runner().invoke(args=["questionnaires", "check", "--folder", str(tiny_folder)])
    assert result.exit_code == 1
    assert "broken/v1.yaml: TT10: option codes used twice: [1]" in result.output
    assert "1 problem(s) found" in result.output


def test_cli_check_passes_the_seed_folder(app):
    result = app.test_cli_runner().invoke(args=["questionnaires", "check"])
    assert result.exit_code == 0, result.output
    assert "ok  ung18/v1.yaml" in result.output and "ok  ung18/v2.yaml" in result.output


def test_cli_publish_refuses_and_publishes_nothing_on_a_problem(app, tiny_folder):
    write_definition(tiny_folder, tiny(key="nolang", title={"nb": "Bare bokmål"}))
    runner = app.test_cli_runner()
    result = runner.invoke(args=["questionnaires", "publish", "--folder", str(tiny_folder)])
    assert result.exit_code == 1 and "nothing was published" in result.output
    assert "nolang/v1.yaml" in result.output


def test_cli_diff_lists_changes_and_what_breaks(app):
    result = app.test_cli_runner().invoke(args=["questionnaires", "diff", "ung18", "1", "2"])
    assert result.exit_code == 0, result.output
    assert "removed  XA46: BREAKS comparability; no successor declared" in result.output
    assert "added    XA47: comparable; harmonised from XA42 by a code map" in result.output
    assert "changed  XA24 (text.en): comparable" in result.output


def test_cli_diff_of_an_unknown_version_is_a_clean_error(app):
    result = app.test_cli_runner().invoke(args=["questionnaires", "diff", "ung18", "1", "9"])
    assert result.exit_code == 1 and "no published version 9" in result.output
