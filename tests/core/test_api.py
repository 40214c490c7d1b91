"""OpenAPI document, docs served offline, health probes."""

import re
import warnings

import pytest

from engagement import create_app, migrate
from tests.conftest import TEST_CONFIG, problem


def test_openapi_document_builds_without_warnings(app):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        spec = app.test_client().get("/openapi.json").get_json()
    assert spec["openapi"].startswith("3.1")
    assert "/health/ready" in spec["paths"]


def test_error_responses_are_documented_as_problem_json(client):
    spec = client.get("/openapi.json").get_json()
    default = spec["components"]["responses"]["DEFAULT_ERROR"]
    assert list(default["content"]) == ["application/problem+json"]


def test_docs_load_nothing_from_the_internet(client):
    page = client.get("/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert not re.search(r"(src|href)=\"https?://", html)
    for asset in re.findall(r"(?:src|href)=\"(/docs/assets/[^\"]+)\"", html):
        asset_response = client.get(asset)
        assert asset_response.status_code == 200
        asset_response.close()
    assert "swagger-ui-bundle.js" in html


def test_liveness(client):
    assert client.get("/health/live").get_json() == {"status": "ok"}


def test_ready_when_database_is_at_head(client):
    response = client.get("/health/ready")
    assert response.status_code == 200, response.get_json()


def test_not_ready_when_migrations_are_missing(tmp_path):
    app = create_app({**TEST_CONFIG, "DATABASE_URL": f"sqlite:///{tmp_path / 'empty.db'}"})
    problem(app.test_client().get("/health/ready"), 503, "service-unavailable")
    with app.app_context():
        migrate.upgrade("head")
    assert app.test_client().get("/health/ready").status_code == 200
    app.extensions["engagement.db"].dispose()


@pytest.mark.parametrize("path", ["/health/ready"])
def test_not_ready_when_database_is_unreachable(path):
    app = create_app(
        {**TEST_CONFIG, "DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none", "DB_POOL_TIMEOUT": 1}
    )
    problem(app.test_client().get(path), 503, "service-unavailable")
