"""Each purpose of a consent document governs use of data or only contact; published versions keep
their bytes, so the seed's first version takes its kinds from the defaults."""

from __future__ import annotations

import pytest
import yaml

from engagement import clock
from engagement.consent import documents
from tests.consent.helpers import SEED, publish_version

pytestmark = pytest.mark.usefixtures("app_ctx")


def test_the_seed_document_s_contact_purposes_are_questionnaires_and_sub_studies():
    document = documents.current_document(clock.now())
    assert document.version == 1 and all("kind" not in p for p in document.purposes)  # as published
    assert document.purpose_kinds == {
        "participation": "use",
        "questionnaires": "contact",
        "registry_linkage": "use",
        "biobank": "use",
        "recontact_substudies": "contact",
        "international_sharing": "use",
    }


def test_a_document_that_states_a_kind_is_taken_at_its_word(tmp_path):
    seed = yaml.safe_load((SEED / "v1.yaml").read_text())
    purposes = [dict(p, kind="contact" if p["code"] == "biobank" else "use") for p in seed["purposes"]]
    publish_version(tmp_path, 2, "major", purposes=purposes)
    kinds = documents.current_document(clock.now()).purpose_kinds
    assert kinds["biobank"] == "contact" and kinds["questionnaires"] == "use"


def test_a_kind_other_than_use_or_contact_is_refused(tmp_path):
    folder = tmp_path / "moba-at-18"
    folder.mkdir()
    content = yaml.safe_load((SEED / "v1.yaml").read_text())
    content["purposes"][1]["kind"] = "reminders"
    (folder / "v1.yaml").write_text(yaml.safe_dump(content, allow_unicode=True))
    with pytest.raises(documents.ConsentDocumentInvalid, match="kind"):
        documents.publish_documents(tmp_path)
