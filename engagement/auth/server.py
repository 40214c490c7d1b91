"""The OAuth server of the app clients, on authlib's Flask ``AuthorizationServer``.

authlib runs the protocol: the authorization request (client, exact redirect URI, response type,
repeated parameters), the authorization code grant with PKCE (S256 only, required at both ends), the
refresh-token grant (a new refresh token at every use) and revocation (RFC 7009). The rules stay in
:mod:`engagement.auth.sessions`: single-use 60 s codes bound to their login, rotation with reuse
detection (a used refresh token or code coming back revokes the whole session), what a token holds.
Between the app's request and its code lies the upstream login (ID-porten or the staff provider):
the request is validated at ``/auth/app/authorize``, kept in a login transaction, and the code is
issued from it at the callback. authlib's errors are answered as problem+json that also carry
OAuth's ``error`` and ``error_description``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from authlib.common.urls import add_params_to_uri
from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.integrations.flask_oauth2.requests import FlaskOAuth2Payload, FlaskOAuth2Request
from authlib.oauth2 import OAuth2Error, OAuth2Request
from authlib.oauth2.rfc6749 import ClientMixin, grants
from authlib.oauth2.rfc6749.errors import InvalidClientError, InvalidRequestError
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc7636.challenge import compare_s256_code_challenge
from flask import Response, current_app
from flask import request as flask_request

from engagement.auth import services, sessions
from engagement.auth.errors import (
    InvalidClient,
    InvalidGrant,
    InvalidRequest,
    InvalidScope,
    OAuthError,
    UnauthorizedClient,
    UnsupportedGrantType,
    UnsupportedResponseType,
    UnsupportedTokenType,
)
from engagement.auth.models import AppAuthorizationCode, LoginTransaction, SessionFamily
from engagement.extensions import db
from engagement.security import ACCESS_TOKEN_LIFETIME

GRANT_TYPES = ("authorization_code", "refresh_token")

# authlib's error code -> the problem this service answers (its slug is the stable part)
_PROBLEMS: dict[str, type[OAuthError]] = {
    "invalid_request": InvalidRequest,
    "invalid_client": InvalidClient,
    "invalid_grant": InvalidGrant,
    "unauthorized_client": UnauthorizedClient,
    "unsupported_grant_type": UnsupportedGrantType,
    "unsupported_response_type": UnsupportedResponseType,
    "unsupported_token_type": UnsupportedTokenType,
    "invalid_scope": InvalidScope,
}
# descriptions of our own, where authlib's would repeat what the client sent
_DESCRIPTIONS = {
    "unsupported_grant_type": "grant_type must be authorization_code or refresh_token.",
    "unsupported_response_type": "response_type must be code.",
}


def problem(error: OAuth2Error) -> OAuthError:
    """The problem+json answer for one of authlib's OAuth errors."""
    kind = _PROBLEMS.get(str(error.error), InvalidRequest)
    return kind(_DESCRIPTIONS.get(str(error.error)) or error.get_error_description() or None)


def description(error: OAuth2Error) -> str:
    """The ``error_description`` sent to the app's redirect URI."""
    return _DESCRIPTIONS.get(str(error.error)) or str(error.get_error_description() or error.error)


# --- the client ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Client(ClientMixin):
    """An app client (``ENGAGEMENT_APP_CLIENTS``) as authlib asks about it: public (no secret), the
    code and refresh grants, no scopes, and exact redirect URIs (staff loopback: any port)."""

    app: services.AppClient

    def get_client_id(self) -> str:
        return self.app.client_id

    def get_default_redirect_uri(self) -> None:
        return None  # redirect_uri is always required

    def get_allowed_scope(self, scope: str | None) -> str:
        return ""

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return self.app.accepts_redirect(redirect_uri)

    def check_client_secret(self, client_secret: str) -> bool:
        return False

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method == "none"

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in GRANT_TYPES


# --- requests --------------------------------------------------------------------------------------


class _FlaskRequest(FlaskOAuth2Request):
    """The Flask request, addressed by this service's public URL (behind a proxy that ends TLS the
    request URL may say http)."""

    def __init__(self) -> None:
        public = str(current_app.config["PUBLIC_URL"]).rstrip("/")
        OAuth2Request.__init__(
            self, flask_request.method, public + flask_request.path, headers=flask_request.headers
        )
        self._request = flask_request
        self.payload = FlaskOAuth2Payload(flask_request)


class _StoredRequest(OAuth2Request):
    """The app's authorization request as the login transaction kept it (for the callback)."""

    def __init__(self, login: LoginTransaction) -> None:
        public = str(current_app.config["PUBLIC_URL"]).rstrip("/")
        super().__init__("GET", public + "/auth/app/authorize")
        self.payload = BasicOAuth2Payload(
            {
                "response_type": "code",
                "client_id": login.client_id,
                "redirect_uri": login.redirect_uri,
                "state": login.client_state,
                "code_challenge": login.code_challenge,
                "code_challenge_method": "S256",
            }
        )
        self.login = login

    @property
    def args(self) -> dict[str, str]:
        return dict(self.payload.data)


# --- grants and their extensions -------------------------------------------------------------------


class S256Only(CodeChallenge):
    """PKCE as RFC 9700 §2.1.1 asks: S256 only, and required already at the authorization request
    (authlib's ``CodeChallenge`` accepts ``plain`` and lets a request without a challenge through)."""

    DEFAULT_CODE_CHALLENGE_METHOD = "S256"
    SUPPORTED_CODE_CHALLENGE_METHOD: ClassVar[list[str]] = ["S256"]
    CODE_CHALLENGE_METHODS: ClassVar[dict[str, Any]] = {"S256": compare_s256_code_challenge}

    def validate_code_challenge(self, grant: grants.BaseGrant, redirect_uri: str | None) -> None:
        data = grant.request.payload.data
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("code_challenge_method must be S256")
        if not services.PKCE_CHALLENGE.fullmatch(data.get("code_challenge") or ""):
            raise InvalidRequestError("code_challenge must be a base64url SHA-256 (43 characters)")
        super().validate_code_challenge(grant, redirect_uri)

    def get_authorization_code_challenge_method(self, authorization_code: Any) -> str:
        return "S256"


class AppRequestRules:
    """What this service asks of an app's authorization request beyond RFC 6749: a ``state``,
    ``prompt`` only ``login``, ``max_age`` a number of seconds."""

    def __call__(self, grant: grants.BaseGrant) -> None:
        grant.register_hook("after_validate_authorization_request_payload", self.validate)

    def validate(self, grant: grants.BaseGrant, _result: Any) -> None:
        data = grant.request.payload.data
        if not services.STATE.fullmatch(data.get("state") or ""):
            raise InvalidRequestError("state is required (printable ASCII, at most 512 characters)")
        if data.get("prompt") not in (None, "", "login"):
            raise InvalidRequestError("prompt may only be login")
        if data.get("max_age") is not None and not services.MAX_AGE.fullmatch(data["max_age"]):
            raise InvalidRequestError("max_age must be a number of seconds")


@dataclass(frozen=True)
class _Code:
    """An authorization code as authlib's grant reads it."""

    row: AppAuthorizationCode

    @property
    def code_challenge(self) -> str:
        return self.row.code_challenge

    def get_redirect_uri(self) -> str:
        return self.row.redirect_uri

    def get_scope(self) -> str:
        return ""


class CodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = ["none"]

    @staticmethod
    def validate_authorization_redirect_uri(request: OAuth2Request, client: Client) -> str:
        """Exactly a registered URI, never echoed back (it may hold anything)."""
        redirect_uri = request.payload.redirect_uri
        if not redirect_uri or not client.check_redirect_uri(redirect_uri):
            raise InvalidRequestError("redirect_uri is not registered for this client.")
        return str(redirect_uri)

    def generate_authorization_code(self) -> str:
        return sessions.new_secret()

    def save_authorization_code(self, code: str, request: OAuth2Request) -> None:
        services.issue_app_code(request.login, request.user, code)

    def query_authorization_code(self, code: str, client: Client) -> _Code:
        return _Code(sessions.take_code(code, client.get_client_id()))

    def delete_authorization_code(self, authorization_code: _Code) -> None:
        """Nothing to do: :func:`sessions.take_code` used the code up as it read it."""

    def authenticate_user(self, authorization_code: _Code) -> SessionFamily:
        return sessions.live_family(authorization_code.row.family_id)


@dataclass(frozen=True)
class _Refresh:
    """A refresh token as authlib's grant reads it."""

    token: sessions.StoredRefreshToken

    def check_client(self, client: Client) -> bool:
        return self.token.client_id == client.get_client_id()

    def get_scope(self) -> str:
        return ""


class RefreshGrant(grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = ["none"]
    INCLUDE_NEW_REFRESH_TOKEN = True  # rotation: every refresh answers a new refresh token

    def authenticate_refresh_token(self, refresh_token: str) -> _Refresh:
        return _Refresh(sessions.find_refresh_token(refresh_token))

    def validate_token_request(self) -> None:
        super().validate_token_request()  # the client, and that the token is this client's
        sessions.use_refresh_token(self.request.refresh_token.token)  # rotation and reuse detection

    def authenticate_user(self, refresh_token: _Refresh) -> SessionFamily:
        return sessions.refreshed_family(refresh_token.token.family_id)

    def revoke_old_credential(self, refresh_token: _Refresh) -> None:
        """Nothing to do: :func:`sessions.use_refresh_token` marked it used before the new one."""


@dataclass(frozen=True)
class _Revocable:
    token: sessions.RevocableToken

    def check_client(self, client: Client) -> bool:
        return self.token.client_id == client.get_client_id()


class Revocation(RevocationEndpoint):
    """RFC 7009: a refresh token or an access token ends its whole session (as logging out does);
    an unknown token changes nothing and is answered 200 all the same."""

    CLIENT_AUTH_METHODS: ClassVar[list[str]] = ["none"]

    def query_token(self, token_string: str, token_type_hint: str | None) -> _Revocable | None:
        found = sessions.find_revocable(token_string)
        return _Revocable(found) if found else None

    def revoke_token(self, token: _Revocable, request: OAuth2Request) -> None:
        sessions.revoke_family(token.token.family_id, "revoked")


# --- the server ------------------------------------------------------------------------------------


def _generate_token(
    grant_type: str,
    client: Client,
    user: SessionFamily | None = None,
    scope: str | None = None,
    expires_in: int | None = None,
    include_refresh_token: bool = True,
) -> dict[str, Any]:
    assert user is not None
    token: dict[str, Any] = {
        "access_token": sessions.access_token_for(user),
        "token_type": "Bearer",
        "expires_in": int(ACCESS_TOKEN_LIFETIME.total_seconds()),
    }
    if include_refresh_token:
        token["refresh_token"] = sessions.new_secret()
    return token


class AppAuthorizationServer(AuthorizationServer):
    def __init__(self) -> None:
        super().__init__()
        self.register_token_generator("default", _generate_token)
        self.register_grant(CodeGrant, [S256Only(required=True), AppRequestRules()])
        self.register_grant(RefreshGrant)
        self.register_endpoint(Revocation)

    def query_client(self, client_id: str | None) -> Client | None:
        client = services.app_clients().get(client_id or "")
        return Client(client) if client else None

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        parent = request.refresh_token.token.id if request.refresh_token is not None else None
        sessions.store_refresh_token(request.user, token["refresh_token"], parent)

    def create_oauth2_request(self, request: Any) -> OAuth2Request:
        return _FlaskRequest()

    def handle_error_response(self, request: OAuth2Request, error: OAuth2Error) -> Response:
        raise problem(error)

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        """No signals."""

    # -- the steps this service splits around the upstream login -----------------------------------

    def accept_authorization_request(self) -> CodeGrant:
        """The validated authorization request of this Flask request (:class:`OAuth2Error` if not;
        its ``redirect_uri`` says whether the app may be sent the error)."""
        if self.query_client(flask_request.args.get("client_id")) is None:
            raise InvalidClientError("Unknown client_id.")  # before anything else is looked at
        grant: CodeGrant = self.get_consent_grant()
        return grant

    def code_redirect(self, login: LoginTransaction, identity: services.Identity) -> str:
        """Issue the app's code for a finished login: the URL to send the browser to."""
        request = _StoredRequest(login)
        grant = self.get_authorization_grant(request)
        redirect_uri = grant.validate_authorization_request()
        _status, _body, headers = grant.create_authorization_response(redirect_uri, identity)
        return with_issuer(dict(headers)["Location"])

    def create_token_response(self, request: Any = None) -> Response:
        db.lock_for_write()  # SQLite: one writer from the first read (PostgreSQL: row locks)
        response: Response = super().create_token_response(request)
        return response


def with_issuer(url: str) -> str:
    """RFC 9207: every authorization response names this server as ``iss``."""
    return str(add_params_to_uri(url, [("iss", current_app.config["PUBLIC_URL"])]))


def metadata() -> dict[str, Any]:
    """RFC 8414 metadata of this server (checked by authlib's ``AuthorizationServerMetadata`` in tests)."""
    base = str(current_app.config["PUBLIC_URL"]).rstrip("/")
    return {
        "issuer": current_app.config["PUBLIC_URL"],
        "authorization_endpoint": f"{base}/auth/app/authorize",
        "token_endpoint": f"{base}/auth/app/token",
        "revocation_endpoint": f"{base}/auth/app/revoke",
        "jwks_uri": f"{base}/.well-known/jwks.json",
        "response_types_supported": ["code"],
        "grant_types_supported": list(GRANT_TYPES),
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["none"],
        "revocation_endpoint_auth_methods_supported": ["none"],
        "authorization_response_iss_parameter_supported": True,
    }


server = AppAuthorizationServer()
