"""A version's DDI codebook and FHIR Questionnaire, as the extracts write them, public and cacheable."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from engagement.research import codebooks
from tests.conftest import problem

DDI = f"{{{codebooks.DDI_NAMESPACE}}}"


def test_the_codebook_of_a_version_is_ddi_without_data(client, ung18):
    response = client.get("/catalog/questionnaires/ung18/versions/2/codebook.xml")
    assert response.status_code == 200
    assert response.mimetype == "application/xml"
    root = ET.fromstring(response.get_data())
    assert root.tag == f"{DDI}codeBook"
    assert root.get("ID") == "ung18.v2"
    assert not list(root.iter(f"{DDI}caseQnty"))  # no data, so no counts
    assert "project" not in root.find(f".//{DDI}abstract").text.split("projects")[0]
    variables = {v.get("name"): v for v in root.iter(f"{DDI}var")}
    assert "XA83" in variables and "XA77" not in variables  # v2's own names
    codes = [c.findtext(f"{DDI}catValu") for c in variables["XA83"].iter(f"{DDI}catgry")]
    assert codes == ["1", "2", "3"]
    assert variables["XA33"].findtext(f"{DDI}universe") == "XA32 = 1"


def test_the_fhir_questionnaire_of_a_version(client, ung18):
    response = client.get("/catalog/questionnaires/ung18/versions/1/questionnaire.json")
    assert response.status_code == 200
    assert response.mimetype == "application/fhir+json"
    body = response.get_json(force=True)
    assert body["resourceType"] == "Questionnaire"
    assert body["id"] == "ung18-v1"


def test_documents_carry_strong_etags_and_public_caching(client, ung18):
    for path in ("codebook.xml", "questionnaire.json"):
        url = f"/catalog/questionnaires/ung18/versions/1/{path}"
        response = client.get(url)
        assert response.headers["Cache-Control"].startswith("public, max-age=")
        etag = response.headers["ETag"]
        assert not etag.startswith("W/")
        assert client.get(url, headers={"If-None-Match": etag}).status_code == 304


def test_an_unknown_version_is_a_problem(client, ung18):
    problem(
        client.get("/catalog/questionnaires/ung18/versions/9/codebook.xml"), 404, "questionnaire-not-found"
    )
    problem(
        client.get("/catalog/questionnaires/nosuch/versions/1/questionnaire.json"),
        404,
        "questionnaire-not-found",
    )
