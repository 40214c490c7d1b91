"""The public catalogue under ``/catalog``: no login, no personal data, strong ETags, cacheable, rate-limited."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import marshmallow as ma
from flask import Response, current_app, request
from flask.views import MethodView

from engagement.api import Blueprint
from engagement.catalogue import schemas, services
from engagement.ratelimit import client_address, limiter

blp = Blueprint(
    "catalogue",
    __name__,
    url_prefix="/catalog",
    description="Public metadata: the dataset catalogue (DCAT-AP-NO), variables, codebooks. No login.",
)
blueprints = [blp]


def public(view: Callable[..., Any]) -> Callable[..., Any]:
    """Marks a view as open to anyone (the route-access check reads it)."""
    view._access = "anyone"  # type: ignore[attr-defined]
    return view


def catalogue_limit() -> Callable[[Any], Any]:
    """One limit per client address across every ``/catalog`` endpoint."""
    return limiter.shared_limit(
        lambda: current_app.config["RATE_LIMIT_CATALOG"], scope="catalogue", key_func=client_address
    )


DECORATORS = [catalogue_limit(), public]


def _send(document: services.Document, content_type: str, *, vary: str | None = None) -> Response:
    """``document`` with its strong ETag and public caching, or 304 when the client holds it already."""
    headers = {"Cache-Control": f"public, max-age={current_app.config['CATALOG_MAX_AGE']}"}
    if vary:
        headers["Vary"] = vary
    if request.if_none_match.contains_weak(document.etag):
        response = Response(status=304, headers=headers)
    else:
        response = Response(document.body, headers={**headers, "Content-Type": content_type})
    response.set_etag(document.etag)
    return response


def _json(data: Any) -> services.Document:
    return services.Document.of(json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode())


def _rdf_format(asked: str | None) -> services.RdfFormat:
    """``?format=`` first, then the Accept header (Turtle when it does not say); 406 when nothing fits."""
    if asked:
        return asked  # type: ignore[return-value]
    if not request.headers.get("Accept"):
        return "turtle"
    offered = {media: name for name, media in services.MEDIA_TYPES.items()}
    best = request.accept_mimetypes.best_match(list(offered))
    if best is None:
        raise services.NotAcceptable(
            f"The catalogue is served as {', '.join(offered)}; ask for one of them (or use ?format=)."
        )
    return offered[best]


_RDF_CONTENT = {
    "text/turtle": {"schema": {"type": "string"}},
    "application/ld+json": {"schema": {"type": ["array", "object"]}},
    "application/rdf+xml": {"schema": {"type": "string"}},
}


@blp.route("")
class Catalog(MethodView):
    decorators = DECORATORS

    @blp.arguments(schemas.CatalogueFormatArgsSchema, location="query", unknown=ma.RAISE)
    @blp.doc(responses={200: {"description": "The catalogue", "content": _RDF_CONTENT}})
    @blp.alt_response(304, description="Not modified: the ETag in If-None-Match is current")
    @blp.alt_response(406, description="None of the media types in Accept can be served")
    def get(self, args: dict[str, Any]) -> Response:
        """The dataset catalogue in DCAT-AP-NO: Turtle, JSON-LD or RDF/XML (Accept, or ?format=)."""
        rdf_format = _rdf_format(args.get("format"))
        document = services.catalogue(rdf_format)
        return _send(document, f"{services.MEDIA_TYPES[rdf_format]}; charset=utf-8", vary="Accept")


@blp.route("/variables")
class Variables(MethodView):
    decorators = DECORATORS

    @blp.arguments(schemas.CatalogueVariableSearchArgsSchema, location="query", unknown=ma.RAISE)
    @blp.response(200, schemas.CatalogueVariablePageSchema)
    @blp.alt_response(304, description="Not modified: the ETag in If-None-Match is current")
    def get(self, args: dict[str, Any]) -> Response:
        """Search the variables of every published questionnaire (names and texts in nb, nn and en)."""
        page, size = args.pop("page"), args.pop("page_size")
        found = services.search(services.variables(), type_=args.pop("type", None), **args)
        body = {
            "items": found[(page - 1) * size : page * size],
            "page": page,
            "page_size": size,
            "total": len(found),
            "pages": math.ceil(len(found) / size),
        }
        return _send(_json(schemas.CatalogueVariablePageSchema().dump(body)), "application/json")


@blp.route("/variables/<name>")
class Variable(MethodView):
    decorators = DECORATORS

    @blp.arguments(schemas.CatalogueVariableArgsSchema, location="query", unknown=ma.RAISE)
    @blp.response(200, schemas.CatalogueVariableSchema)
    @blp.alt_response(304, description="Not modified: the ETag in If-None-Match is current")
    def get(self, args: dict[str, Any], name: str) -> Response:
        """One variable under any of its names: texts, codes, missing codes, condition, scale, lineage."""
        entry = services.variable(name, args.get("questionnaire"))
        return _send(_json(schemas.CatalogueVariableSchema().dump(entry)), "application/json")


@blp.route("/questionnaires/<key>/versions/<int:version>/codebook.xml")
class Codebook(MethodView):
    decorators = DECORATORS

    @blp.response(200, {"type": "string"}, content_type="application/xml")
    @blp.alt_response(304, description="Not modified: the ETag in If-None-Match is current")
    def get(self, key: str, version: int) -> Response:
        """The DDI-Codebook 2.5 of a published version, as in a delivery but without data."""
        return _send(services.codebook(key, version), "application/xml; charset=utf-8")


@blp.route("/questionnaires/<key>/versions/<int:version>/questionnaire.json")
class FhirQuestionnaire(MethodView):
    decorators = DECORATORS

    @blp.response(200, {"type": "object"}, content_type="application/fhir+json")
    @blp.alt_response(304, description="Not modified: the ETag in If-None-Match is current")
    def get(self, key: str, version: int) -> Response:
        """The FHIR R4 Questionnaire of a published version."""
        return _send(services.fhir_questionnaire(key, version), "application/fhir+json; charset=utf-8")
