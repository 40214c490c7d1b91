"""GET /catalog: DCAT-AP-NO in Turtle, JSON-LD and RDF/XML, valid against the profile's mandatory
properties (SHACL), the same graph in every serialisation, counts of people rounded and withheld."""

from __future__ import annotations

from datetime import UTC, datetime

import pyshacl
import pytest
import sqlalchemy as sa
from rdflib import RDF, XSD, Graph, Literal, URIRef
from rdflib.compare import isomorphic
from rdflib.namespace import DCTERMS, FOAF

from engagement import config
from engagement.catalogue.dcat import DCAT, HEALTHDCATAP, SHAPES, VCARD
from tests.conftest import problem

FORMATS = {
    "turtle": ("text/turtle", "turtle"),
    "jsonld": ("application/ld+json", "json-ld"),
    "rdfxml": ("application/rdf+xml", "xml"),
}
# rdflib's own JSON-LD parser builds a ConjunctiveGraph internally and warns about its own deprecation.
pytestmark = pytest.mark.filterwarnings("ignore:ConjunctiveGraph is deprecated:DeprecationWarning")
BASE = "http://127.0.0.1:5000/catalog"
SERIES = URIRef(f"{BASE}/questionnaires/ung18")
V1 = URIRef(f"{BASE}/questionnaires/ung18/versions/1")
V2 = URIRef(f"{BASE}/questionnaires/ung18/versions/2")
SHAPES_GRAPH = Graph().parse(SHAPES)


def fetch(client, rdf_format="turtle") -> Graph:
    response = client.get(f"/catalog?format={rdf_format}")
    assert response.status_code == 200, response.get_data(as_text=True)
    media, parser = FORMATS[rdf_format]
    assert response.mimetype == media
    return Graph().parse(data=response.get_data(), format=parser)


def conforms(graph: Graph) -> tuple[bool, str]:
    ok, _report, text = pyshacl.validate(graph, shacl_graph=SHAPES_GRAPH)
    return bool(ok), str(text)


@pytest.mark.parametrize("rdf_format", list(FORMATS))
def test_every_serialisation_parses_and_conforms_to_the_mandatory_properties(client, ung18, rdf_format):
    graph = fetch(client, rdf_format)
    ok, report = conforms(graph)
    assert ok, report
    assert (URIRef(BASE), RDF.type, DCAT.Catalog) in graph
    assert set(graph.subjects(RDF.type, DCAT.Dataset)) == {V1, V2}


def test_the_three_serialisations_hold_the_same_graph(client, ung18):
    turtle, jsonld, rdfxml = (fetch(client, f) for f in FORMATS)
    assert len(turtle) > 100
    assert isomorphic(turtle, jsonld)
    assert isomorphic(turtle, rdfxml)


def test_an_empty_catalogue_conforms_too(client):
    ok, report = conforms(fetch(client))
    assert ok, report


MANDATORY = [
    (DCAT.Catalog, DCTERMS.title),
    (DCAT.Catalog, DCTERMS.description),
    (DCAT.Catalog, DCTERMS.identifier),
    (DCAT.Catalog, DCTERMS.publisher),
    (DCAT.Catalog, DCAT.contactPoint),
    (DCAT.DatasetSeries, DCTERMS.title),
    (DCAT.DatasetSeries, DCTERMS.description),
    (DCAT.DatasetSeries, DCTERMS.publisher),
    (DCAT.DatasetSeries, DCAT.contactPoint),
    (DCAT.DatasetSeries, DCAT.theme),
    (DCAT.Dataset, DCTERMS.title),
    (DCAT.Dataset, DCTERMS.description),
    (DCAT.Dataset, DCTERMS.publisher),
    (DCAT.Dataset, DCAT.contactPoint),
    (DCAT.Dataset, DCAT.theme),
    (DCAT.Distribution, DCAT.accessURL),
    (FOAF.Agent, FOAF.name),
]


@pytest.mark.parametrize(("cls", "prop"), MANDATORY, ids=lambda term: str(term).rsplit("/", 1)[-1])
def test_removing_a_mandatory_property_fails_validation(client, ung18, cls, prop):
    graph = fetch(client)
    subject = next(iter(graph.subjects(RDF.type, cls)))
    assert (subject, prop, None) in graph
    graph.remove((subject, prop, None))
    ok, report = conforms(graph)
    assert not ok
    assert str(prop) in report or prop.n3(graph.namespace_manager) in report


@pytest.mark.parametrize(
    ("change", "why"),
    [
        (lambda g: g.add((V2, DCTERMS.title, Literal("Enda en tittel", lang="nb"))), "two titles in nb"),
        (lambda g: g.set((V2, DCTERMS.description, Literal("no language"))), "not a langString"),
        (
            lambda g: g.set((V2, DCTERMS.publisher, URIRef("https://example.org/fhi"))),
            "publisher not by organisation number",
        ),
        (
            lambda g: g.remove(
                (V2, DCAT.theme, URIRef("http://publications.europa.eu/resource/authority/data-theme/HEAL"))
            ),
            "no EU theme",
        ),
        (lambda g: g.remove((None, RDF.type, VCARD.Kind)), "contact point not a vcard:Kind"),
    ],
)
def test_the_shapes_hold_the_profiles_value_rules(client, ung18, change, why):
    graph = fetch(client)
    change(graph)
    assert not conforms(graph)[0], why


def test_each_version_is_a_dataset_in_its_questionnaires_series(client, ung18, app):
    graph = fetch(client)
    assert (SERIES, RDF.type, DCAT.DatasetSeries) in graph
    assert (URIRef(BASE), DCAT.dataset, SERIES) in graph
    assert set(graph.objects(V1, DCAT.inSeries)) == set(graph.objects(V2, DCAT.inSeries)) == {SERIES}
    assert (V2, DCAT.previousVersion, V1) in graph
    assert (SERIES, DCAT.last, V2) in graph
    assert {(t.language, str(t)) for t in graph.objects(V2, DCTERMS.title)} == {
        ("nb", "MoBa 18 år (UNG18_B)"),
        ("nn", "MoBa 18 år (UNG18_B)"),
        ("en", "MoBa at 18 (UNG18_B)"),
    }
    publisher = URIRef("https://organization-catalog.fellesdatakatalog.digdir.no/organizations/983744516")
    assert (V2, DCTERMS.publisher, publisher) in graph
    eu = "http://publications.europa.eu/resource/authority/"
    assert (V2, DCTERMS.accessRights, URIRef(eu + "access-right/NON_PUBLIC")) in graph
    assert (V2, DCTERMS.spatial, URIRef(eu + "country/NOR")) in graph
    assert (
        V2,
        DCTERMS.conformsTo,
        URIRef("http://www.ddialliance.org/Specification/DDI-Codebook/2.5/"),
    ) in graph
    assert str(graph.value(V2, DCAT.version)) == "2"
    assert (V2, HEALTHDCATAP.minTypicalAge, Literal(18, datatype=XSD.nonNegativeInteger)) in graph
    hdab = URIRef("https://organization-catalog.fellesdatakatalog.digdir.no/organizations/983544622")
    assert (V2, HEALTHDCATAP.hdab, hdab) in graph
    distributions = {str(graph.value(d, DCAT.accessURL)) for d in graph.objects(V2, DCAT.distribution)}
    assert distributions == {
        f"{V2}/codebook.xml",
        f"{V2}/questionnaire.json",
        app.config["CATALOG_ACCESS_URL"],
    }
    # the distribution links resolve here
    for url in distributions - {app.config["CATALOG_ACCESS_URL"]}:
        assert client.get(url.removeprefix("http://127.0.0.1:5000")).status_code == 200


def test_people_are_counted_rounded_and_never_below_the_threshold(
    client, app, monkeypatch, make_participant, answer
):
    monkeypatch.setitem(app.config, "CATALOG_MAX_AGE", 0)  # counts as of each request
    monkeypatch.setitem(app.config, "CATALOG_COUNT_THRESHOLD", 3)
    monkeypatch.setitem(app.config, "CATALOG_COUNT_ROUNDING", 5)
    first, last = datetime(2026, 3, 2, 9, tzinfo=UTC), datetime(2026, 3, 9, 9, tzinfo=UTC)
    answer(make_participant(), 1, at=first)
    answer(make_participant(), 1, at=last)
    graph = fetch(client)
    assert graph.value(V1, HEALTHDCATAP.numberOfUniqueIndividuals) is None  # 2 < 3
    assert graph.value(V1, DCTERMS.temporal) is None  # nor the days two people answered on

    for _ in range(5):
        answer(make_participant(), 1, at=first)
    graph = fetch(client)
    assert graph.value(V1, HEALTHDCATAP.numberOfUniqueIndividuals).toPython() == 5  # 7, rounded to 5
    assert graph.value(V1, HEALTHDCATAP.numberOfRecords).toPython() == 5
    period = graph.value(V1, DCTERMS.temporal)
    assert graph.value(period, DCAT.startDate).toPython().isoformat() == "2026-03-02"
    assert graph.value(period, DCAT.endDate).toPython().isoformat() == "2026-03-09"
    assert graph.value(V2, HEALTHDCATAP.numberOfUniqueIndividuals) is None  # nobody answered v2
    assert conforms(graph)[0]


def test_a_warm_catalogue_is_reused_until_its_age_is_up_or_a_version_is_published(
    client, app, monkeypatch, make_participant, answer
):
    from engagement.extensions import db
    from engagement.questionnaires.models import QuestionnaireVersion

    monkeypatch.setitem(app.config, "CATALOG_COUNT_THRESHOLD", 1)
    monkeypatch.setitem(app.config, "CATALOG_COUNT_ROUNDING", 1)
    etag = client.get("/catalog").headers["ETag"]
    answer(make_participant(), 1)
    assert client.get("/catalog").headers["ETag"] == etag  # warm: not rebuilt within its max-age
    monkeypatch.setitem(app.config, "CATALOG_MAX_AGE", 0)
    counted = client.get("/catalog").headers["ETag"]
    assert counted != etag  # rebuilt, with the new respondent
    monkeypatch.setitem(app.config, "CATALOG_MAX_AGE", 3600)
    with app.app_context():
        v1 = db.session.scalars(sa.select(QuestionnaireVersion).filter_by(key="ung18", version=1)).one()
        db.session.add(
            QuestionnaireVersion(
                key="ung19",
                version=1,
                version_label="UNG19_A",
                content_hash="0" * 64,
                definition={**v1.definition, "key": "ung19", "version_label": "UNG19_A"},
                consent_purpose="questionnaires",
            )
        )
        db.session.commit()
    graph = fetch(client)
    assert (URIRef(f"{BASE}/questionnaires/ung19"), RDF.type, DCAT.DatasetSeries) in graph


def test_content_negotiation(client, ung18):
    for media, _parser in FORMATS.values():
        response = client.get("/catalog", headers={"Accept": media})
        assert response.mimetype == media
        assert "Accept" in response.headers["Vary"]
    assert client.get("/catalog").mimetype == "text/turtle"
    assert client.get("/catalog", headers={"Accept": "text/html,*/*;q=0.8"}).mimetype == "text/turtle"
    overridden = client.get("/catalog?format=jsonld", headers={"Accept": "text/turtle"})
    assert overridden.mimetype == "application/ld+json"
    problem(client.get("/catalog", headers={"Accept": "image/png"}), 406, "not-acceptable")
    problem(client.get("/catalog?format=csv"), 422, "validation-failed")


def test_strong_etag_and_public_caching(client, ung18, app):
    response = client.get("/catalog")
    etag = response.headers["ETag"]
    assert etag.startswith('"') and not etag.startswith("W/")
    assert response.headers["Cache-Control"] == f"public, max-age={app.config['CATALOG_MAX_AGE']}"
    again = client.get("/catalog", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.headers["ETag"] == etag
    assert again.get_data() == b""
    other = client.get("/catalog?format=jsonld", headers={"If-None-Match": etag})
    assert other.status_code == 200  # another body, another tag


def test_the_catalogue_is_rate_limited_per_client_address(client, app, monkeypatch):
    monkeypatch.setitem(app.config, "RATE_LIMIT_CATALOG", "2/minute")
    address = {"REMOTE_ADDR": "10.17.0.1"}
    assert [client.get("/catalog", environ_base=address).status_code for _ in range(2)] == [200, 200]
    refused = client.get("/catalog/variables", environ_base=address)
    problem(refused, 429, "too-many-requests")
    assert client.get("/catalog", environ_base={"REMOTE_ADDR": "10.17.0.2"}).status_code == 200


REQUIRED_IN_PRODUCTION = (
    "CATALOG_PUBLISHER_ORGNR",
    "CATALOG_CONTACT_EMAIL",
    "CATALOG_ACCESS_URL",
    "CATALOG_HDAB_ORGNR",
)


def test_production_refuses_to_start_without_the_publishers_facts():
    with pytest.raises(config.ConfigError) as caught:
        config.load(environ={"ENGAGEMENT_ENV": "production"})
    for name in REQUIRED_IN_PRODUCTION:
        assert f"ENGAGEMENT_{name}" in str(caught.value)


def test_development_has_stand_ins_for_the_publishers_facts():
    values = config.load(environ={})
    assert values["CATALOG_PUBLISHER_ORGNR"] == "983744516"
    assert all(values[name] for name in REQUIRED_IN_PRODUCTION)


@pytest.mark.parametrize(
    ("count", "shown"), [(0, None), (9, None), (10, 10), (14, 10), (15, 20), (1234, 1230), (1235, 1240)]
)
def test_counts_of_people_round_half_up_and_vanish_below_the_threshold(count, shown):
    from engagement.catalogue.services import disclosed

    assert disclosed(count, threshold=10, rounding=10) == shown
