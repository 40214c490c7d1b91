"""Wire shapes of the OAuth endpoints and the session list."""

from __future__ import annotations

import marshmallow as ma


class AuthorizeQuerySchema(ma.Schema):
    """The app's authorization request (RFC 6749 §4.1.1 with PKCE, RFC 7636)."""

    class Meta:
        unknown = ma.EXCLUDE  # RFC 6749 §3.1: unrecognised parameters are ignored

    client_id = ma.fields.String()
    redirect_uri = ma.fields.String(metadata={"description": "exactly as registered"})
    response_type = ma.fields.String(metadata={"enum": ["code"]})
    code_challenge = ma.fields.String(metadata={"description": "BASE64URL(SHA256(verifier))"})
    code_challenge_method = ma.fields.String(metadata={"enum": ["S256"]})
    state = ma.fields.String()
    ui_locales = ma.fields.String(metadata={"example": "nb en"})
    prompt = ma.fields.String(metadata={"enum": ["login"]})
    max_age = ma.fields.String(
        metadata={
            "description": "seconds since the person last authenticated (passed on to ID-porten); "
            "a withdrawal with deletion needs a login of the last 10 minutes",
            "example": "0",
        }
    )


class CallbackQuerySchema(ma.Schema):
    """What the upstream provider sends back to the browser."""

    class Meta:
        unknown = ma.EXCLUDE

    state = ma.fields.String()
    code = ma.fields.String()
    iss = ma.fields.String()
    error = ma.fields.String()
    error_description = ma.fields.String()


class TokenRequestSchema(ma.Schema):
    """``grant_type=authorization_code`` (code, code_verifier, redirect_uri, client_id) or
    ``grant_type=refresh_token`` (refresh_token, client_id)."""

    class Meta:
        unknown = ma.EXCLUDE  # RFC 6749 §3.2: unrecognised parameters are ignored

    grant_type = ma.fields.String(metadata={"enum": ["authorization_code", "refresh_token"]})
    client_id = ma.fields.String()
    code = ma.fields.String()
    code_verifier = ma.fields.String()
    redirect_uri = ma.fields.String()
    refresh_token = ma.fields.String()


class TokenSchema(ma.Schema):
    """The backend's own tokens (never the upstream provider's)."""

    access_token = ma.fields.String(required=True, metadata={"description": "JWT, ES256, typ at+jwt"})
    token_type = ma.fields.String(required=True, metadata={"enum": ["Bearer"]})
    expires_in = ma.fields.Integer(required=True)
    refresh_token = ma.fields.String(required=True, metadata={"description": "opaque; rotated on every use"})


class LogoutRequestSchema(ma.Schema):
    """End the session of this refresh token (or of the bearer access token)."""

    class Meta:
        unknown = ma.EXCLUDE

    client_id = ma.fields.String()
    refresh_token = ma.fields.String()


class RevocationRequestSchema(ma.Schema):
    """RFC 7009 §2.1: the token to revoke, with an optional hint of its type."""

    class Meta:
        unknown = ma.EXCLUDE

    token = ma.fields.String(metadata={"description": "a refresh token or an access token"})
    token_type_hint = ma.fields.String(metadata={"enum": ["refresh_token", "access_token"]})
    client_id = ma.fields.String()


class FrontchannelLogoutQuerySchema(ma.Schema):
    class Meta:
        unknown = ma.EXCLUDE

    iss = ma.fields.String()
    sid = ma.fields.String()


class SessionSchema(ma.Schema):
    """One logged-in device of the participant."""

    id = ma.fields.UUID(required=True)
    client_id = ma.fields.String()
    created_at = ma.fields.AwareDateTime(required=True)
    last_used_at = ma.fields.AwareDateTime(allow_none=True)
    auth_time = ma.fields.AwareDateTime(allow_none=True)
    acr = ma.fields.String(allow_none=True)
    current = ma.fields.Boolean(required=True, metadata={"description": "the session of this request"})


class StaffMeSchema(ma.Schema):
    """The logged-in staff user."""

    id = ma.fields.UUID(required=True)
    name = ma.fields.String(allow_none=True)
    roles = ma.fields.List(ma.fields.String(), required=True)
