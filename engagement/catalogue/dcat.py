"""The catalogue as an RDF graph in DCAT-AP-NO, with the HealthDCAT-AP properties we can fill honestly.

Pure (no Flask, no database): :func:`build` takes the publisher's facts (settings), the published
questionnaire versions and their disclosed counts, and returns an ``rdflib.Graph``. One
``dcat:DatasetSeries`` per questionnaire, one ``dcat:Dataset`` per published version in it, each
with two distributions: the DDI codebook and the pseudonymised data, which is only given on an
approved application (``dcat:accessURL`` says where to apply).

Every node has a URI under ``<public URL>/catalog`` (no blank nodes), so that a harvester can refer
to each and the three serialisations compare as the same graph.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from rdflib import RDF, XSD, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCTERMS, FOAF, PROV, SKOS

from engagement.questionnaires import definition as qdef

LANGUAGES = qdef.LANGUAGES
SHAPES = Path(__file__).resolve().parent / "shapes" / "dcat-ap-no.ttl"  # what the profile makes mandatory
# Namespaces not in rdflib (or, for DCAT, not yet with its version 3 terms), as their specifications
# publish them.
DCAT = Namespace("http://www.w3.org/ns/dcat#")
VCARD = Namespace("http://www.w3.org/2006/vcard/ns#")
DCATAP = Namespace("http://data.europa.eu/r5r/")
DCATNO = Namespace("https://data.norge.no/vocabulary/dcatno#")
HEALTHDCATAP = Namespace("http://healthdataportal.eu/ns/health#")  # HealthDCAT-AP release
DPV = Namespace("https://w3id.org/dpv#")
DPV_PD = Namespace("https://w3id.org/dpv/pd#")

ORGANISATIONS = "https://organization-catalog.fellesdatakatalog.digdir.no/organizations/"
EU = "http://publications.europa.eu/resource/authority/"
THEME_HEALTH = URIRef(EU + "data-theme/HEAL")
LOS_HEALTH = URIRef("https://psi.norge.no/los/tema/helse-og-omsorg")
NORWAY = URIRef(EU + "country/NOR")
NON_PUBLIC = URIRef(EU + "access-right/NON_PUBLIC")
EU_LANGUAGES = {
    "nb": URIRef(EU + "language/NOB"),
    "nn": URIRef(EU + "language/NNO"),
    "en": URIRef(EU + "language/ENG"),
}
COLLECTED_FROM_USER = URIRef("https://data.norge.no/vocabulary/provenance-activity-type#collecting-from-user")
DDI_CODEBOOK = URIRef("http://www.ddialliance.org/Specification/DDI-Codebook/2.5/")
FHIR_QUESTIONNAIRE = URIRef("http://hl7.org/fhir/R4/questionnaire.html")
FILE_XML = URIRef(EU + "file-type/XML")
FILE_JSON = URIRef(EU + "file-type/JSON")
MEDIA_XML = URIRef("http://www.iana.org/assignments/media-types/application/xml")
MEDIA_FHIR_JSON = URIRef("http://www.iana.org/assignments/media-types/application/fhir+json")
DATA_FORMATS = ("CSV", "PARQUET")  # EU file types of the delivered data (also .sav and .dta)
# Every table of an extract holds the age at answering, and the questionnaires are about health.
PERSONAL_DATA = (DPV_PD.Age, DPV_PD.Health)

_TEXTS: dict[str, dict[str, str]] = {
    "catalog_title": {
        "nb": "MoBa unge voksne: spørreskjemadata",
        "nn": "MoBa unge vaksne: spørjeskjemadata",
        "en": "MoBa young adults: questionnaire data",
    },
    "catalog_description": {
        "nb": "Spørreskjemaene unge voksne i Den norske mor, far og barn-undersøkelsen (MoBa) svarer på "
        "etter at de har fylt 18 år, én datasettserie per spørreskjema og ett datasett per versjon.",
        "nn": "Spørjeskjemaa unge vaksne i Den norske mor, far og barn-undersøkinga (MoBa) svarar på "
        "etter at dei har fylt 18 år, éin datasettserie per spørjeskjema og eitt datasett per versjon.",
        "en": "The questionnaires young adults in the Norwegian Mother, Father and Child Cohort Study "
        "(MoBa) answer after turning 18: one dataset series per questionnaire, one dataset per version.",
    },
    "series_description": {
        "nb": "Svar på spørreskjemaet «{title}» fra unge voksne i MoBa, i alle publiserte versjoner.",
        "nn": "Svar på spørjeskjemaet «{title}» frå unge vaksne i MoBa, i alle publiserte versjonar.",
        "en": "Answers of young adults in MoBa to the questionnaire “{title}”, in every published version.",
    },
    "dataset_description": {
        "nb": "Svar på versjon {label} av spørreskjemaet «{title}»: {variables} variabler i {sections} "
        "deler. Pseudonymiserte data utleveres til godkjente forskningsprosjekter for deltakere som har "
        "samtykket til formålet.",
        "nn": "Svar på versjon {label} av spørjeskjemaet «{title}»: {variables} variablar i {sections} "
        "delar. Pseudonymiserte data blir utleverte til godkjende forskingsprosjekt for deltakarar som har "
        "samtykt til formålet.",
        "en": "Answers to version {label} of the questionnaire “{title}”: {variables} variables in "
        "{sections} sections. Pseudonymised data are delivered to approved research projects, for "
        "participants who consented to the purpose.",
    },
    "codebook_title": {"nb": "Kodebok (DDI)", "nn": "Kodebok (DDI)", "en": "Codebook (DDI)"},
    "codebook_description": {
        "nb": "Variabler, spørsmålstekster, koder og manglende-verdi-koder, uten data.",
        "nn": "Variablar, spørsmålstekstar, kodar og manglande-verdi-kodar, utan data.",
        "en": "Variables, question texts, codes and missing-value codes, without data.",
    },
    "fhir_title": {
        "nb": "Spørreskjemaet (FHIR Questionnaire)",
        "nn": "Spørjeskjemaet (FHIR Questionnaire)",
        "en": "The questionnaire (FHIR Questionnaire)",
    },
    "fhir_description": {
        "nb": "Spørsmålene, svaralternativene og vilkårene for når de vises, som FHIR R4 Questionnaire.",
        "nn": "Spørsmåla, svaralternativa og vilkåra for når dei blir viste, som FHIR R4 Questionnaire.",
        "en": "The questions, answer options and the conditions that show them, as a FHIR R4 Questionnaire.",
    },
    "data_title": {
        "nb": "Pseudonymiserte data (etter søknad)",
        "nn": "Pseudonymiserte data (etter søknad)",
        "en": "Pseudonymised data (on application)",
    },
    "data_description": {
        "nb": "SPSS, Stata, Parquet og CSV med kodebøker, levert til forskningsprosjektets område i "
        "forskningsdatalageret etter godkjent søknad.",
        "nn": "SPSS, Stata, Parquet og CSV med kodebøker, leverte til forskingsprosjektet sitt område i "
        "forskingsdatalageret etter godkjend søknad.",
        "en": "SPSS, Stata, Parquet and CSV with codebooks, delivered into the research project's area "
        "of the research data store after an approved application.",
    },
    "legal_basis": {
        "nb": "Samtykke fra deltakeren, per formål, etter helseforskningsloven.",
        "nn": "Samtykke frå deltakaren, per formål, etter helseforskingslova.",
        "en": "The participant's consent, per purpose, under the Health Research Act.",
    },
    "population": {
        "nb": "Unge voksne (fra 18 år) i MoBa-kohorten som har samtykket til å svare på spørreskjemaer.",
        "nn": "Unge vaksne (frå 18 år) i MoBa-kohorten som har samtykt til å svare på spørjeskjema.",
        "en": "Young adults (18 and over) of the MoBa cohort who consented to answer questionnaires.",
    },
}


@dataclass(frozen=True)
class Publisher:
    """Facts about who publishes the catalogue (settings, never code)."""

    base_url: str  # the service's public URL; every node's URI starts with it
    organisation_number: str
    name: str
    contact_email: str
    access_url: str
    hdab_organisation_number: str
    hdab_name: str
    legal_basis_url: str
    min_age: int


@dataclass(frozen=True)
class Counts:
    """What may be said about the people behind a version (already rounded; None: not shown)."""

    respondents: int | None = None
    responses: int | None = None
    first_answer: date | None = None
    last_answer: date | None = None


@dataclass(frozen=True)
class PublishedVersion:
    definition: Mapping[str, Any]
    published_at: datetime
    counts: Counts
    variables: int  # number of export variables (the codebook's)


def _texts(graph: Graph, node: URIRef, prop: URIRef, texts: Mapping[str, str]) -> None:
    for lang in LANGUAGES:
        graph.add((node, prop, Literal(texts[lang], lang=lang)))


def _format(texts: Mapping[str, str], **values: Any) -> dict[str, str]:
    return {
        lang: texts[lang].format(**{k: (v[lang] if isinstance(v, Mapping) else v) for k, v in values.items()})
        for lang in LANGUAGES
    }


def series_uri(base: str, key: str) -> URIRef:
    return URIRef(f"{base}/catalog/questionnaires/{key}")


def dataset_uri(base: str, key: str, version: int) -> URIRef:
    return URIRef(f"{base}/catalog/questionnaires/{key}/versions/{version}")


def build(publisher: Publisher, versions: Sequence[PublishedVersion]) -> Graph:
    """The catalogue of ``versions`` (any order) as a DCAT-AP-NO graph."""
    base = publisher.base_url.rstrip("/")
    graph = Graph()
    for prefix, namespace in (
        ("dcat", DCAT),
        ("dct", DCTERMS),
        ("foaf", FOAF),
        ("vcard", VCARD),
        ("prov", PROV),
        ("skos", SKOS),
        ("dcatap", DCATAP),
        ("dcatno", DCATNO),
        ("healthdcatap", HEALTHDCATAP),
        ("dpv", DPV),
        ("pd", DPV_PD),
    ):
        graph.bind(prefix, namespace)

    catalog = URIRef(f"{base}/catalog")
    organisation = URIRef(ORGANISATIONS + publisher.organisation_number)
    hdab = URIRef(ORGANISATIONS + publisher.hdab_organisation_number)
    contact = URIRef(f"{base}/catalog#contact-point")
    legal_basis = URIRef(f"{base}/catalog#legal-basis")
    law = URIRef(publisher.legal_basis_url)

    for agent, name, number in (
        (organisation, publisher.name, publisher.organisation_number),
        (hdab, publisher.hdab_name, publisher.hdab_organisation_number),
    ):
        graph.add((agent, RDF.type, FOAF.Agent))
        graph.add((agent, RDF.type, FOAF.Organization))
        graph.add((agent, FOAF.name, Literal(name)))
        graph.add((agent, DCTERMS.identifier, Literal(number)))
    graph.add((contact, RDF.type, VCARD.Kind))
    graph.add((contact, RDF.type, VCARD.Organization))
    graph.add((contact, VCARD.fn, Literal(publisher.name)))
    graph.add((contact, VCARD.hasEmail, URIRef(f"mailto:{publisher.contact_email}")))
    graph.add((contact, VCARD.hasURL, URIRef(publisher.access_url)))
    graph.add((legal_basis, RDF.type, DCTERMS.RightsStatement))
    graph.add((legal_basis, DCTERMS.source, law))
    _texts(graph, legal_basis, DCTERMS.description, _TEXTS["legal_basis"])

    graph.add((catalog, RDF.type, DCAT.Catalog))
    graph.add((catalog, DCTERMS.identifier, Literal(str(catalog))))
    _texts(graph, catalog, DCTERMS.title, _TEXTS["catalog_title"])
    _texts(graph, catalog, DCTERMS.description, _TEXTS["catalog_description"])
    graph.add((catalog, DCTERMS.publisher, organisation))
    graph.add((catalog, DCAT.contactPoint, contact))
    graph.add((catalog, DCAT.themeTaxonomy, URIRef(EU + "data-theme")))
    graph.add((catalog, DCAT.themeTaxonomy, URIRef("https://psi.norge.no/los/struktur")))
    for lang in LANGUAGES:
        graph.add((catalog, DCTERMS.language, EU_LANGUAGES[lang]))
    graph.add((catalog, DCTERMS.spatial, NORWAY))
    if versions:
        graph.add((catalog, DCTERMS.modified, Literal(max(v.published_at for v in versions))))

    by_key: dict[str, list[PublishedVersion]] = {}
    for version in versions:
        by_key.setdefault(version.definition["key"], []).append(version)
    for key, members in sorted(by_key.items()):
        members.sort(key=lambda v: v.definition["version"])
        series = series_uri(base, key)
        latest = members[-1].definition
        graph.add((catalog, DCAT.dataset, series))
        graph.add((series, RDF.type, DCAT.DatasetSeries))
        graph.add((series, DCTERMS.identifier, Literal(str(series))))
        _texts(graph, series, DCTERMS.title, latest["title"])
        _texts(
            graph, series, DCTERMS.description, _format(_TEXTS["series_description"], title=latest["title"])
        )
        _common(graph, series, organisation, contact, law)
        graph.add((series, DCAT.first, dataset_uri(base, key, members[0].definition["version"])))
        graph.add((series, DCAT.last, dataset_uri(base, key, latest["version"])))
        previous: URIRef | None = None
        for member in members:
            dataset = _dataset(
                graph, base, series, member, publisher, organisation, contact, legal_basis, law, hdab
            )
            graph.add((catalog, DCAT.dataset, dataset))
            if previous is not None:
                graph.add((dataset, DCAT.previousVersion, previous))
                graph.add((dataset, DCAT.prev, previous))
            previous = dataset
    return graph


def _common(graph: Graph, node: URIRef, organisation: URIRef, contact: URIRef, law: URIRef) -> None:
    """What a series and each dataset in it both say: who, how to reach them, themes, where, which law."""
    graph.add((node, DCTERMS.publisher, organisation))
    graph.add((node, DCAT.contactPoint, contact))
    graph.add((node, DCAT.theme, THEME_HEALTH))
    graph.add((node, DCAT.theme, LOS_HEALTH))
    graph.add((node, DCTERMS.spatial, NORWAY))
    graph.add((node, DCATAP.applicableLegislation, law))


def _dataset(
    graph: Graph,
    base: str,
    series: URIRef,
    member: PublishedVersion,
    publisher: Publisher,
    organisation: URIRef,
    contact: URIRef,
    legal_basis: URIRef,
    law: URIRef,
    hdab: URIRef,
) -> URIRef:
    definition = member.definition
    key, number, label = definition["key"], definition["version"], str(definition["version_label"])
    dataset = dataset_uri(base, key, number)
    graph.add((dataset, RDF.type, DCAT.Dataset))
    graph.add((dataset, DCTERMS.identifier, Literal(str(dataset))))
    _texts(
        graph, dataset, DCTERMS.title, {lang: f"{definition['title'][lang]} ({label})" for lang in LANGUAGES}
    )
    description = _format(
        _TEXTS["dataset_description"],
        label=label,
        title=definition["title"],
        variables=member.variables,
        sections=len(definition["sections"]),
    )
    _texts(graph, dataset, DCTERMS.description, description)
    _common(graph, dataset, organisation, contact, law)
    graph.add((dataset, DCAT.inSeries, series))
    graph.add((dataset, DCAT.version, Literal(str(number))))
    graph.add((dataset, DCTERMS.issued, Literal(member.published_at)))
    graph.add((dataset, DCTERMS.accessRights, NON_PUBLIC))
    graph.add((dataset, DCTERMS.conformsTo, DDI_CODEBOOK))
    graph.add((dataset, PROV.wasGeneratedBy, COLLECTED_FROM_USER))
    graph.add((dataset, DCATNO.legalBasisForProcessing, legal_basis))
    for lang in LANGUAGES:
        graph.add((dataset, DCTERMS.language, EU_LANGUAGES[lang]))
    for keyword in _keywords(definition):
        graph.add((dataset, DCAT.keyword, keyword))

    counts = member.counts
    if counts.first_answer is not None and counts.last_answer is not None:
        period = URIRef(f"{dataset}#temporal")
        graph.add((dataset, DCTERMS.temporal, period))
        graph.add((period, RDF.type, DCTERMS.PeriodOfTime))
        graph.add((period, DCAT.startDate, Literal(counts.first_answer, datatype=XSD.date)))
        graph.add((period, DCAT.endDate, Literal(counts.last_answer, datatype=XSD.date)))
    if counts.respondents is not None:
        graph.add(
            (
                dataset,
                HEALTHDCATAP.numberOfUniqueIndividuals,
                Literal(counts.respondents, datatype=XSD.nonNegativeInteger),
            )
        )
    if counts.responses is not None:
        graph.add(
            (
                dataset,
                HEALTHDCATAP.numberOfRecords,
                Literal(counts.responses, datatype=XSD.nonNegativeInteger),
            )
        )
    graph.add(
        (dataset, HEALTHDCATAP.minTypicalAge, Literal(publisher.min_age, datatype=XSD.nonNegativeInteger))
    )
    _texts(graph, dataset, HEALTHDCATAP.populationCoverage, _TEXTS["population"])
    graph.add((dataset, HEALTHDCATAP.hdab, hdab))
    for category in PERSONAL_DATA:
        graph.add((dataset, DPV.hasPersonalData, category))
    graph.add((dataset, DPV.hasLegalBasis, DPV.Consent))
    graph.add((dataset, DPV.hasPurpose, DPV.ResearchAndDevelopment))

    codebook = URIRef(f"{dataset}/codebook.xml")
    questionnaire = URIRef(f"{dataset}/questionnaire.json")
    for suffix, title, description, url, file_type, media, standard in (
        (
            "codebook",
            _TEXTS["codebook_title"],
            _TEXTS["codebook_description"],
            codebook,
            FILE_XML,
            MEDIA_XML,
            DDI_CODEBOOK,
        ),
        (
            "questionnaire",
            _TEXTS["fhir_title"],
            _TEXTS["fhir_description"],
            questionnaire,
            FILE_JSON,
            MEDIA_FHIR_JSON,
            FHIR_QUESTIONNAIRE,
        ),
    ):
        distribution = URIRef(f"{dataset}#{suffix}")
        graph.add((dataset, DCAT.distribution, distribution))
        graph.add((distribution, RDF.type, DCAT.Distribution))
        _texts(graph, distribution, DCTERMS.title, title)
        _texts(graph, distribution, DCTERMS.description, description)
        graph.add((distribution, DCAT.accessURL, url))
        graph.add((distribution, DCAT.downloadURL, url))
        graph.add((distribution, DCTERMS.format, file_type))
        graph.add((distribution, DCAT.mediaType, media))
        graph.add((distribution, DCTERMS.conformsTo, standard))
    data = URIRef(f"{dataset}#data")
    graph.add((dataset, DCAT.distribution, data))
    graph.add((data, RDF.type, DCAT.Distribution))
    _texts(graph, data, DCTERMS.title, _TEXTS["data_title"])
    _texts(graph, data, DCTERMS.description, _TEXTS["data_description"])
    graph.add((data, DCAT.accessURL, URIRef(publisher.access_url)))
    graph.add((data, FOAF.page, codebook))
    for data_format in DATA_FORMATS:
        graph.add((data, DCTERMS.format, URIRef(EU + "file-type/" + data_format)))
    return dataset


def _keywords(definition: Mapping[str, Any]) -> list[Literal]:
    """Section titles and the names of the scored instruments, in each language (each once)."""
    texts = [section["title"] for section in definition["sections"]]
    texts += [scale["title"] for scale in definition.get("scales", {}).values() if "title" in scale]
    keywords = dict.fromkeys(Literal(text[lang], lang=lang) for text in texts for lang in LANGUAGES)
    return list(keywords)
