"""flask-smorest ``Api`` and ``Blueprint`` as this service uses them: problem+json errors, OpenAPI 3.1."""

from __future__ import annotations

import http
import json
from collections.abc import Callable
from typing import Any

import flask_smorest
import marshmallow as ma
from flask_smorest.spec import prepare_response
from webargs.flaskparser import FlaskParser

from engagement.errors import PROBLEM_CONTENT_TYPE, handle_http_exception
from engagement.problems import BadRequest

MAX_JSON_DEPTH = 32
# I-JSON (RFC 7493 §2.2): integers beyond ±(2**53 - 1) do not survive every JSON implementation.
MAX_JSON_INTEGER = 2**53 - 1


class MalformedJson(BadRequest):
    slug, title = "malformed-json", "The request body is not valid JSON"


class NumberOutOfRange(BadRequest):
    slug, title = "number-out-of-range", "A number in the request is out of range"


class InvalidText(BadRequest):
    slug, title = "invalid-text", "The request holds text that cannot be stored"


def check_json_value(value: Any, depth: int = 0) -> None:
    """Refuse JSON nested deeper than :data:`MAX_JSON_DEPTH`, and strings no database can store
    (lone surrogates, NUL), before any of it reaches a schema or a column."""
    if depth > MAX_JSON_DEPTH:
        raise MalformedJson(f"The JSON body is nested deeper than {MAX_JSON_DEPTH} levels.")
    if isinstance(value, str):
        if "\x00" in value:
            raise InvalidText("Text must not contain NUL characters.")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise InvalidText("Text must be valid Unicode (no lone surrogates).") from exc
    elif isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_JSON_INTEGER:
        raise NumberOutOfRange(f"Integers must lie within ±{MAX_JSON_INTEGER} (RFC 7493).")
    elif isinstance(value, dict):
        for key, item in value.items():
            check_json_value(key, depth + 1)
            check_json_value(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            check_json_value(item, depth + 1)


class JsonParser(FlaskParser):
    """webargs' parser, with a depth limit and text checks on JSON bodies."""

    def _raw_load_json(self, req: Any) -> Any:
        try:
            data = super()._raw_load_json(req)
        except RecursionError as exc:
            raise MalformedJson(f"The JSON body is nested deeper than {MAX_JSON_DEPTH} levels.") from exc
        except json.JSONDecodeError:
            raise  # webargs answers these itself (an empty body is no body)
        except ValueError as exc:
            # The parser's own limits, e.g. an integer of more than 4,300 digits (CPython's
            # int_max_str_digits): the body cannot be parsed, which is the client's error.
            raise MalformedJson("The request body is not valid JSON (a value cannot be parsed).") from exc
        check_json_value(data)
        return data


class ProblemSchema(ma.Schema):
    """RFC 9457 problem details, as every error response of this API is shaped.

    Problem types may add extension members (RFC 9457 §3.2), so other properties are allowed."""

    class Meta:
        unknown = ma.INCLUDE

    type = ma.fields.String(required=True, metadata={"description": "stable URI of the problem type"})
    title = ma.fields.String(required=True)
    status = ma.fields.Integer(required=True)
    detail = ma.fields.String()
    request_id = ma.fields.String()
    errors = ma.fields.Raw(metadata={"description": "field-level errors, for validation problems"})


class Api(flask_smorest.Api):
    ERROR_SCHEMA = ProblemSchema

    def _register_error_handlers(self) -> None:
        # engagement.errors.init_app registers every handler; nothing to add here.
        return None

    def handle_http_exception(self, error: Any) -> Any:
        return handle_http_exception(error)

    def _register_responses(self) -> None:
        assert self.spec is not None
        for status in http.HTTPStatus:
            response: dict[str, Any] = {"description": status.phrase}
            content_type = self.DEFAULT_RESPONSE_CONTENT_TYPE
            if status >= 400:
                response["schema"] = self.ERROR_SCHEMA
                content_type = PROBLEM_CONTENT_TYPE
            prepare_response(response, self.spec, content_type)
            self.spec.components.response(status.name, response, lazy=True)
        response = {"description": "Problem details (RFC 9457)", "schema": self.ERROR_SCHEMA}
        prepare_response(response, self.spec, PROBLEM_CONTENT_TYPE)
        self.spec.components.response("DEFAULT_ERROR", response, lazy=True)


class Blueprint(flask_smorest.Blueprint):
    """A flask-smorest blueprint; ``accepts`` declares request body media types beyond JSON."""

    ARGUMENTS_PARSER = JsonParser()

    @staticmethod
    def accepts(*media_types: str) -> Callable[[Any], Any]:
        def decorator(func: Any) -> Any:
            func._accepts = frozenset(media_types)
            return func

        return decorator
