"""Every error is problem+json with a stable type; no HTML, no stack trace."""

import marshmallow as ma
import pytest
from flask.views import MethodView

from engagement import create_app
from engagement.api import Blueprint
from engagement.extensions import api
from engagement.ratelimit import auth_limit
from tests.conftest import TEST_CONFIG, problem


class EchoSchema(ma.Schema):
    name = ma.fields.String(required=True, validate=ma.validate.Length(max=10))
    count = ma.fields.Integer()


@pytest.fixture(scope="module")
def error_app(tmp_path_factory):
    app = create_app(
        {
            **TEST_CONFIG,
            "DATABASE_URL": f"sqlite:///{tmp_path_factory.mktemp('e') / 'e.db'}",
            "MAX_CONTENT_LENGTH": 1024,
            "RATE_LIMIT_AUTH": "2/minute",
            "METRICS_TOKEN": "metrics-test-token",
        }
    )
    blp = Blueprint("echo", __name__, url_prefix="/v1/echo")

    @blp.route("")
    class Echo(MethodView):
        @blp.arguments(EchoSchema)
        @blp.response(200, EchoSchema)
        def post(self, data):
            """Echo."""
            return data

    @blp.route("/boom")
    class Boom(MethodView):
        def get(self):
            """Fail."""
            raise RuntimeError("secret internals 15830751340")

    @blp.route("/csv")
    class Csv(MethodView):
        @blp.accepts("text/csv")
        def post(self):
            """Accept CSV."""
            return {"ok": True}

    @blp.route("/limited")
    class Limited(MethodView):
        @auth_limit()
        def get(self):
            """Limited."""
            return {"ok": True}

    api.register_blueprint(blp)
    return app


@pytest.fixture
def c(error_app):
    return error_app.test_client()


def test_unknown_path_is_problem_404(client):
    body = problem(client.get("/no/such/thing"), 404, "not-found")
    assert body["title"] and body["detail"]


def test_wrong_method_is_problem_405_with_allow(client):
    response = client.delete("/health/live")
    problem(response, 405, "method-not-allowed")
    assert "GET" in response.headers["Allow"]


def test_malformed_json_is_problem_400(c):
    problem(c.post("/v1/echo", data="{not json", content_type="application/json"), 400, "malformed-json")


def test_schema_errors_name_each_field(c):
    body = problem(
        c.post("/v1/echo", json={"name": "x" * 11, "count": "many", "extra": 1}), 422, "validation-failed"
    )
    fields = body["errors"]["json"]  # every field at once, including the unknown one
    assert set(fields) == {"name", "count", "extra"}


def test_wrong_content_type_is_problem_415(c):
    problem(
        c.post("/v1/echo", data="name=x", content_type="application/x-www-form-urlencoded"),
        415,
        "unsupported-media-type",
    )


def test_declared_media_type_is_accepted_and_json_refused(c):
    assert c.post("/v1/echo/csv", data="a,b\n", content_type="text/csv").status_code == 200
    problem(c.post("/v1/echo/csv", json={"a": 1}), 415, "unsupported-media-type")


def test_oversized_body_is_problem_413(c):
    problem(
        c.post("/v1/echo", data='{"name": "' + "x" * 2000 + '"}', content_type="application/json"),
        413,
        "payload-too-large",
    )


def test_crash_is_problem_500_without_internals(c):
    response = c.get("/v1/echo/boom")
    body = problem(response, 500, "internal-error")
    text = response.get_data(as_text=True)
    assert "Traceback" not in text and "secret internals" not in text and "15830751340" not in text
    assert body["request_id"]


def test_json_deeper_than_the_interpreter_can_parse_is_refused(app):
    from engagement.api import JsonParser, MalformedJson

    body = '{"name": ' + "[" * 100_000 + "]" * 100_000 + "}"
    with app.test_request_context(data=body, content_type="application/json"):
        from flask import request

        with pytest.raises(MalformedJson):
            JsonParser()._raw_load_json(request)


def test_deeply_nested_json_is_problem_400(c):
    shallow_but_over_limit = '{"name": ' + "[" * 40 + "]" * 40 + "}"
    problem(
        c.post("/v1/echo", data=shallow_but_over_limit, content_type="application/json"),
        400,
        "malformed-json",
    )


@pytest.mark.parametrize("text", ['"\\ud800"', '"a\\u0000b"'])
def test_text_no_database_can_store_is_refused(c, text):
    problem(
        c.post("/v1/echo", data='{"name": ' + text + "}", content_type="application/json"),
        400,
        "invalid-text",
    )


def test_invalid_utf8_is_problem_400(c):
    problem(
        c.post("/v1/echo", data=b'{"name": "\xff\xfe"}', content_type="application/json"),
        400,
        "malformed-json",
    )


def test_rate_limit_answers_429_problem_with_retry_after(c):
    assert c.get("/v1/echo/limited").status_code == 200
    assert c.get("/v1/echo/limited").status_code == 200
    response = c.get("/v1/echo/limited")
    problem(response, 429, "too-many-requests")
    assert int(response.headers["Retry-After"]) > 0


def test_metrics_need_the_token(c):
    problem(c.get("/metrics"), 401, "unauthorized")
    problem(c.get("/metrics", headers={"Authorization": "Bearer wrong"}), 401, "unauthorized")
    c.get("/v1/echo/limited")
    response = c.get("/metrics", headers={"Authorization": "Bearer metrics-test-token"})
    assert response.status_code == 200
    assert (
        'engagement_http_request_duration_seconds_count{method="GET",route="/v1/echo/limited"'
        in response.get_data(as_text=True)
    )


def test_metrics_do_not_exist_without_a_configured_token(client):
    problem(client.get("/metrics"), 404, "not-found")


def test_integers_beyond_ijson_range_are_refused(c):
    problem(c.post("/v1/echo", json={"name": "x", "count": 2**53}), 400, "number-out-of-range")
    assert c.post("/v1/echo", json={"name": "x", "count": 2**53 - 1}).status_code == 200
