"""GET /catalog/variables and /catalog/variables/{name}: search in nb, nn and en, filters, pages, and
one variable with its texts, codes, missing codes, condition, scale and lineage across versions."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from engagement.research import codebooks
from tests.conftest import problem


def search(client, **params):
    response = client.get("/catalog/variables", query_string=params)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


@pytest.mark.parametrize(
    "query",
    [
        "XA77",  # its first name
        "XA83",  # its name since v2
        "bruker e-sigarett",  # nb
        "brukar e-sigarett",  # nn
        "do you use e-cigarettes",  # en
        "vape",  # only in v2's wording
    ],
)
def test_a_renamed_item_is_found_under_both_names_and_in_every_language(client, ung18, query):
    found = {item["name"]: item for item in search(client, q=query)["items"]}
    assert "XA77" in found
    assert found["XA77"]["names"] == ["XA77", "XA83"]
    assert found["XA77"]["versions"] == ["UNG18_A", "UNG18_B"]


def test_a_renamed_variable_is_one_page_under_either_name_with_its_lineage(client, ung18):
    by_old, by_new = client.get("/catalog/variables/XA77"), client.get("/catalog/variables/XA83")
    assert by_old.get_json() == by_new.get_json()
    entry = by_new.get_json()
    assert entry["name"] == "XA77"
    assert entry["lineage"] == [
        {"version": 1, "version_label": "UNG18_A", "variable": "XA77", "relation": "asked", "codes": None},
        {"version": 2, "version_label": "UNG18_B", "variable": "XA83", "relation": "same_as", "codes": None},
    ]
    assert [(v["version_label"], v["variable"], v["question"]["nb"]) for v in entry["versions"]] == [
        ("UNG18_A", "XA77", "Bruker du e-sigarett?"),
        ("UNG18_B", "XA83", "Bruker du e-sigarett eller vape?"),
    ]
    assert entry["question"] == {
        "nb": "Bruker du e-sigarett eller vape?",
        "nn": "Brukar du e-sigarett eller vape?",
        "en": "Do you use e-cigarettes or vapes?",
    }
    assert [(c["code"], c["label"], c["text"]["en"]) for c in entry["codes"]] == [
        (1, "NEI", "No"),
        (2, "AV OG TIL", "Sometimes"),
        (3, "DAGLIG", "Daily"),
    ]


def test_a_recoded_variable_shows_the_code_map(client, ung18):
    entry = client.get("/catalog/variables/XA47").get_json()
    assert entry["lineage"][0] == {
        "version": 1,
        "version_label": "UNG18_A",
        "variable": "XA42",
        "relation": "recoded_from",
        "codes": {"1": 1, "2": 1, "3": 2, "4": 3, "5": 4},
    }
    assert [v["version_label"] for v in entry["versions"]] == ["UNG18_B"]  # asked in v2 only


def test_a_variable_page_has_texts_missing_codes_condition_and_section(client, ung18):
    entry = client.get("/catalog/variables/XA33").get_json()
    assert entry["question"]["nn"] == "Kor gammal var du då du fekk menstruasjon første gong? (år)"
    assert entry["item_type"] == "integer"
    assert entry["measure"] == "scale"
    assert entry["missing"] == [
        {
            "code": 99,
            "label": "HUSKER IKKE",
            "kind": "dont_remember",
            "text": {"nb": "Husker ikke", "nn": "Hugsar ikkje", "en": "Don't remember"},
        },
        {  # the item has a condition: a cell is -2 where it was not shown
            "code": -2,
            "label": "IKKE VIST (FILTER)",
            "kind": "not_shown",
            "text": {
                "nb": "Ikke vist: vilkåret for spørsmålet var ikke oppfylt",
                "nn": "Ikkje vist: vilkåret for spørsmålet var ikkje oppfylt",
                "en": "Not shown: the question's condition was not met",
            },
        },
    ]
    assert entry["codes"] == []  # a number, no labelled codes but the missing one
    assert entry["condition"] == "XA32 = 1"
    assert entry["enable_when"] == [{"item": "XA32", "operator": "=", "answer": 1}]
    assert entry["section"] == {
        "id": "about_you",
        "title": {"nb": "Om deg", "nn": "Om deg", "en": "About you"},
    }


def test_a_scale_item_names_its_scale_and_role(client, ung18):
    entry = client.get("/catalog/variables/XA50").get_json()
    assert entry["scale"]["id"] == "SCL5"
    assert entry["scale"]["name"] == "SCL-5"
    assert entry["scale"]["title"]["en"] == "Psychological distress (SCL-5)"
    assert entry["scale"]["role"] == "item"
    assert entry["scale"]["reversed"] is False


def test_filters(client, ung18):
    scl = search(client, scale="scl-5")
    assert scl["total"] == 5
    assert {item["scale"] for item in scl["items"]} == {"SCL5"}
    assert "XA47" not in {i["name"] for i in search(client, version=1, page_size=100)["items"]}
    assert "XA47" in {i["name"] for i in search(client, version=2, page_size=100)["items"]}
    likert = search(client, type="likert", page_size=100)["items"]
    assert likert and {i["item_type"] for i in likert} == {"likert"}
    assert {i["section"] for i in search(client, section="about_you", page_size=100)["items"]} == {
        "about_you"
    }
    assert search(client, questionnaire="nosuch")["total"] == 0
    assert search(client, q="XA50", scale="SWLS")["total"] == 0  # filters and words together


def test_pages(client, ung18):
    first = search(client, page_size=5)
    everything = search(client, page_size=100)
    assert len(first["items"]) == 5
    assert first["total"] == everything["total"] == len(everything["items"])
    assert first["pages"] == -(-first["total"] // 5)
    second = search(client, page_size=5, page=2)
    assert [i["name"] for i in first["items"] + second["items"]] == [
        i["name"] for i in everything["items"][:10]
    ]
    assert search(client, page_size=5, page=999)["items"] == []


def test_nothing_sent_is_silently_dropped(client, ung18):
    problem(client.get("/catalog/variables?colour=red"), 422, "validation-failed")
    problem(client.get("/catalog/variables?page_size=1000"), 422, "validation-failed")
    problem(client.get("/catalog/variables/XA33?colour=red"), 422, "validation-failed")


def test_an_unknown_variable_is_a_problem(client, ung18):
    problem(client.get("/catalog/variables/XA9999"), 404, "catalogue-variable-not-found")
    problem(client.get("/catalog/variables/XA33?questionnaire=other"), 404, "catalogue-variable-not-found")


def test_the_variable_list_is_the_codebooks(client, ung18):
    """The catalogue and a version's codebook come from the same rules: the same variables."""
    for version in (1, 2):
        xml = client.get(f"/catalog/questionnaires/ung18/versions/{version}/codebook.xml").get_data()
        names = {v.get("name") for v in ET.fromstring(xml).iter(f"{{{codebooks.DDI_NAMESPACE}}}var")}
        listed = {
            v["variable"]
            for item in search(client, version=version, page_size=100, questionnaire="ung18")["items"]
            for v in client.get(item["href"]).get_json()["versions"]
            if v["version"] == version
        }
        assert listed and listed == names - {"VERSJON_UNG18_TBL1", "AGE_YRS_XA"}


def test_variable_answers_carry_strong_etags(client, ung18):
    response = client.get("/catalog/variables/XA33")
    assert response.headers["Cache-Control"].startswith("public, max-age=")
    assert (
        client.get("/catalog/variables/XA33", headers={"If-None-Match": response.headers["ETag"]}).status_code
        == 304
    )
    listing = client.get("/catalog/variables?q=alkohol")
    assert (
        client.get(
            "/catalog/variables?q=alkohol", headers={"If-None-Match": listing.headers["ETag"]}
        ).status_code
        == 304
    )
