"""The errors of logging in: OAuth errors (RFC 6749 §5.2) answered as problem+json with the OAuth
``error`` code, and a login that ended without a session (the app is sent the error)."""

from __future__ import annotations

from engagement.problems import BadRequest, DomainError


class OAuthError(DomainError):
    """An OAuth error (RFC 6749 §5.2) as problem+json; ``error`` carries the OAuth code for clients.

    ``commit_first``: what the refusal did (a revoked session) must be committed before answering."""

    status, slug, title = 400, "invalid-request", "The OAuth request is not valid"
    error = "invalid_request"
    commit_first = False

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail, error=self.error, error_description=detail or self.title)


class InvalidRequest(OAuthError):
    pass


class InvalidClient(OAuthError):
    status, slug, title, error = 401, "invalid-client", "Unknown client", "invalid_client"


class InvalidGrant(OAuthError):
    slug, title, error = "invalid-grant", "The code or refresh token is not valid", "invalid_grant"


class UnsupportedGrantType(OAuthError):
    slug, title, error = "unsupported-grant-type", "Unsupported grant type", "unsupported_grant_type"


class UnauthorizedClient(OAuthError):
    slug, title, error = "unauthorized-client", "This client may not use this grant", "unauthorized_client"


class UnsupportedResponseType(OAuthError):
    slug, title = "unsupported-response-type", "Unsupported response type"
    error = "unsupported_response_type"


class UnsupportedTokenType(OAuthError):
    slug, title, error = "unsupported-token-type", "Unsupported token type", "unsupported_token_type"


class InvalidScope(OAuthError):
    slug, title, error = "invalid-scope", "This service has no scopes", "invalid_scope"


class NoRoleLeft(InvalidGrant):
    """A staff user's record holds no role any more: every session of theirs has ended."""

    commit_first = True


class RefreshTokenReuse(InvalidGrant):
    """A rotated refresh token or a used code came back: its whole family was revoked."""

    commit_first = True


class UnknownLogin(BadRequest):
    slug, title = "login-not-found", "This login is unknown, expired or was opened in another browser"


class LoginFailed(Exception):
    """The login ended without a session; the app is sent ``error`` and ``error_description``."""

    def __init__(self, error: str, description: str, **extra: str) -> None:
        super().__init__(description)
        self.error, self.description, self.extra = error, description, extra
