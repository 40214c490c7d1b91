"""The backend's own access tokens: ES256, typ at+jwt, issuer, audience, expiry; nothing else gets in."""

import uuid
from datetime import timedelta

import pytest
from joserfc import jwt

from engagement import clock
from engagement.problems import Unauthorized
from engagement.security import Principal, generate_signing_key, issue_access_token, verify_access_token


@pytest.fixture
def principal():
    return Principal(
        "participant", uuid.uuid4(), uuid.uuid4(), "app", acr="idporten-loa-high", auth_time=clock.now()
    )


def test_token_round_trip(app, principal):
    with app.test_request_context():
        token = issue_access_token(principal)
        back = verify_access_token(token)
    assert back.subject == principal.subject and back.session_id == principal.session_id
    assert back.kind == "participant" and back.acr == "idporten-loa-high"


def test_expired_token_is_refused(app, principal):
    with app.test_request_context():
        with clock.frozen(clock.now() - timedelta(minutes=11)):
            token = issue_access_token(principal)
        with pytest.raises(Unauthorized):
            verify_access_token(token)


def test_token_signed_by_another_key_is_refused(app, principal):
    with app.test_request_context():
        good = jwt.decode(issue_access_token(principal), app.extensions["engagement.token_keys"].verifying)
        forged = jwt.encode(dict(good.header), dict(good.claims), generate_signing_key())
        with pytest.raises(Unauthorized):
            verify_access_token(forged)


@pytest.mark.parametrize("header", [{"alg": "ES256", "typ": "JWT"}, {"alg": "HS256", "typ": "at+jwt"}])
def test_wrong_type_or_algorithm_is_refused(app, principal, header):
    keys = app.extensions["engagement.token_keys"]
    with app.test_request_context():
        claims = dict(jwt.decode(issue_access_token(principal), keys.verifying).claims)
        if header["alg"] == "HS256":
            from joserfc.jwk import OctKey

            token = jwt.encode(header, claims, OctKey.import_key("k" * 32), algorithms=["HS256"])
        else:
            token = jwt.encode({**header, "kid": keys.signing.kid}, claims, keys.signing)
        with pytest.raises(Unauthorized):
            verify_access_token(token)


def test_signing_key_rotation_keeps_retired_keys_verifying_until_removed(app, principal):
    from engagement.security import TokenKeys

    original = app.extensions["engagement.token_keys"]
    old, new = generate_signing_key(), generate_signing_key()
    try:
        with app.test_request_context():
            app.extensions["engagement.token_keys"] = TokenKeys(old)
            issued_before = issue_access_token(principal)
            app.extensions["engagement.token_keys"] = TokenKeys(new, retired=[old])
            assert verify_access_token(issued_before).subject == principal.subject
            assert jwt.decode(issue_access_token(principal), new).header["kid"] == new.kid
            app.extensions["engagement.token_keys"] = TokenKeys(new)
            with pytest.raises(Unauthorized):
                verify_access_token(issued_before)
    finally:
        app.extensions["engagement.token_keys"] = original


def test_signing_keys_load_from_a_jwk_set_file_first_key_signs(tmp_path):
    import json

    from engagement import create_app
    from tests.conftest import TEST_CONFIG

    new, old = generate_signing_key(), generate_signing_key()
    path = tmp_path / "keys.json"
    path.write_text(json.dumps({"keys": [new.as_dict(private=True), old.as_dict(private=True)]}))
    app = create_app(
        {**TEST_CONFIG, "DATABASE_URL": f"sqlite:///{tmp_path / 'k.db'}", "TOKEN_SIGNING_KEY": str(path)}
    )
    keys = app.extensions["engagement.token_keys"]
    assert keys.signing.kid == new.kid and {k.kid for k in keys.verifying} == {new.kid, old.kid}
    assert all("d" not in k for k in keys.public_jwks()["keys"])
    app.extensions["engagement.db"].dispose()
