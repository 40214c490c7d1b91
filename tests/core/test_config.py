import pytest

from engagement import config
from engagement.config import ConfigError


def test_environment_overlays_defaults():
    values = config.load(environ={"ENGAGEMENT_MAX_CONTENT_LENGTH": "2048", "ENGAGEMENT_LOG_JSON": "false"})
    assert values["MAX_CONTENT_LENGTH"] == 2048
    assert values["LOG_JSON"] is False
    assert values["DATABASE_URL"].startswith("sqlite:///") and values["DATABASE_URL"].endswith(
        "instance/engagement.sqlite3"
    )


def test_explicit_config_wins_over_environment():
    values = config.load({"LOG_LEVEL": "DEBUG"}, environ={"ENGAGEMENT_LOG_LEVEL": "WARNING"})
    assert values["LOG_LEVEL"] == "DEBUG"


def test_bad_values_are_reported_by_name():
    with pytest.raises(ConfigError, match="ENGAGEMENT_LOG_JSON"):
        config.load(environ={"ENGAGEMENT_LOG_JSON": "maybe"})


def test_unknown_environment_is_refused():
    with pytest.raises(ConfigError, match="ENGAGEMENT_ENV"):
        config.load(environ={"ENGAGEMENT_ENV": "staging"})


def test_production_lists_every_problem_at_once():
    with pytest.raises(ConfigError) as caught:
        config.load(
            environ={
                "ENGAGEMENT_ENV": "production",
                "ENGAGEMENT_DEV_IDPORTEN": "true",
                "ENGAGEMENT_ALLOW_SYNTHETIC_PID": "true",
            }
        )
    message = str(caught.value)
    for name in (
        "SECRET_KEY",
        "PID_PEPPER",
        "TOKEN_SIGNING_KEY",
        "DEV_IDPORTEN",
        "ALLOW_SYNTHETIC_PID",
        "DATABASE_URL",
        "PUBLIC_URL",
        "DATA_STORE_DIR",
    ):
        assert f"ENGAGEMENT_{name}" in message


def test_production_with_real_settings_starts():
    environ = {
        "ENGAGEMENT_ENV": "production",
        "ENGAGEMENT_SECRET_KEY": "s" * 32,
        "ENGAGEMENT_PID_PEPPER": "p" * 32,
        "ENGAGEMENT_TOKEN_SIGNING_KEY": "/run/secrets/signing.jwk",
        "ENGAGEMENT_DATABASE_URL": "postgresql+psycopg://engagement@db/engagement",
        "ENGAGEMENT_PUBLIC_URL": "https://api.example.test",
        "ENGAGEMENT_DATA_STORE_DIR": "/srv/research-import",
        "ENGAGEMENT_IDPORTEN_ISSUER": "https://idporten.no",
        "ENGAGEMENT_IDPORTEN_CLIENT_ID": "moba-engagement",
        "ENGAGEMENT_IDPORTEN_CLIENT_KEY": "/run/secrets/idporten.jwk",
        "ENGAGEMENT_STAFF_ISSUER": "https://login.example.test",
        "ENGAGEMENT_STAFF_CLIENT_ID": "moba-engagement-staff",
        "ENGAGEMENT_STAFF_CLIENT_SECRET": "x" * 32,
        "ENGAGEMENT_APP_CLIENTS": '[{"client_id": "app", "kind": "participant", "redirect_uris": ["no.moba:/cb"]}]',
        "ENGAGEMENT_CATALOG_PUBLISHER_ORGNR": "983744516",
        "ENGAGEMENT_CATALOG_CONTACT_EMAIL": "datatilgang@example.test",
        "ENGAGEMENT_CATALOG_ACCESS_URL": "https://access.example.test/apply",
        "ENGAGEMENT_CATALOG_HDAB_ORGNR": "983544622",
    }
    assert config.validate(config.load(environ=environ)) == []


def test_development_fills_in_development_secrets():
    values = config.load(environ={})
    assert values["SECRET_KEY"] and values["PID_PEPPER"]


def test_readme_lists_every_setting():
    from tests.conftest import ROOT

    readme = (ROOT / "README.md").read_text()
    missing = [s.name for s in config.SETTINGS if f"ENGAGEMENT_{s.name}" not in readme]
    assert missing == []
