"""OAuth endpoints for the app (``/auth/app/*``), the upstream callbacks, logout, and session lists."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode, urlsplit

from authlib.oauth2 import OAuth2Error
from flask import Flask, Response, current_app, redirect, request
from flask.views import MethodView
from werkzeug.wrappers import Response as WerkzeugResponse

from engagement.api import Blueprint
from engagement.auth import schemas, services, sessions
from engagement.auth import server as server_module
from engagement.auth.errors import InvalidRequest, LoginFailed, OAuthError
from engagement.auth.models import StaffUser
from engagement.auth.oidc import UpstreamError, upstream
from engagement.auth.server import server
from engagement.auth.sessions import ClientKind
from engagement.extensions import db
from engagement.problems import BadRequest, NotFound
from engagement.ratelimit import auth_limit
from engagement.security import (
    current_principal,
    participant_required,
    staff_required,
    verify_access_token,
)

LOGIN_COOKIE = "engagement_login"
FORM = "application/x-www-form-urlencoded"

oauth = Blueprint(
    "oauth", __name__, url_prefix="/auth", description="Login (OAuth 2.1 with PKCE for the app)."
)
session_routes = Blueprint("sessions", __name__, url_prefix="/v1", description="The caller's own sessions.")
wellknown = Blueprint("wellknown", __name__, url_prefix="/.well-known", description="Keys and metadata.")
blueprints = [oauth, session_routes, wellknown]


def _no_store(response: WerkzeugResponse) -> WerkzeugResponse:
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


def _to_app(redirect_uri: str, params: dict[str, str]) -> WerkzeugResponse:
    params = {**params, "iss": current_app.config["PUBLIC_URL"]}
    separator = "&" if urlsplit(redirect_uri).query else "?"
    return _no_store(redirect(redirect_uri + separator + urlencode(params), code=302))


@oauth.route("/app/authorize")
class Authorize(MethodView):
    decorators = [auth_limit()]

    @oauth.arguments(schemas.AuthorizeQuerySchema, location="query")
    @oauth.response(302, description="To the login provider, or back to the app with an OAuth error")
    @oauth.alt_response(429, description="Too many requests from this address; see Retry-After")
    @oauth.alt_response(400, description="Unknown client or redirect_uri (never redirected)")
    def get(self, _args: dict[str, Any]) -> WerkzeugResponse:
        """Start a login (the app opens this in the system browser)"""
        try:
            grant = server.accept_authorization_request()
        except OAuth2Error as error:
            if not error.redirect_uri:
                raise server_module.problem(error) from None
            state = request.args.get("state")
            return _to_app(
                error.redirect_uri,
                {
                    "error": str(error.error),
                    "error_description": server_module.description(error),
                    **({"state": state} if state and services.STATE.fullmatch(state) else {}),
                },
            )
        params = {k: v for k, v in request.args.items() if isinstance(v, str)}
        try:
            started = services.start_login(grant.client.app, params, request.cookies.get(LOGIN_COOKIE))
        except LoginFailed as failed:
            return _to_app(
                params["redirect_uri"],
                {"error": failed.error, "error_description": failed.description, "state": params["state"]},
            )
        db.session.commit()
        response = _no_store(redirect(started.upstream_url, code=302))
        response.set_cookie(
            LOGIN_COOKIE,
            started.browser_secret,
            max_age=int(services.LOGIN_LIFETIME.total_seconds()),
            path="/auth",
            httponly=True,
            secure=current_app.config["PUBLIC_URL"].startswith("https://"),
            samesite="Lax",
        )
        return response


def _callback(kind: ClientKind) -> WerkzeugResponse:
    args = {k: v for k, v in request.args.items() if isinstance(v, str)}
    login = services.take_login(kind, args.get("state"), request.cookies.get(LOGIN_COOKIE))
    # a login started by a browser face of this service (the staff console) is finished by it
    browser_login = current_app.extensions.get("engagement.browser_logins", {}).get(login.client_id)
    if browser_login is not None and kind == "staff":
        response: WerkzeugResponse = browser_login(login, args)
        return response
    try:
        identity = services.finish_login(login, args)
        location = server.code_redirect(login, identity)
    except LoginFailed as failed:
        db.session.commit()  # the consumed login and the audit event stay
        return _to_app(
            login.redirect_uri,
            {
                "error": failed.error,
                "error_description": failed.description,
                **failed.extra,
                "state": login.client_state,
            },
        )
    db.session.commit()
    return _no_store(redirect(location, code=302))


@oauth.route("/idporten/callback")
class IdPortenCallback(MethodView):
    decorators = [auth_limit()]

    @oauth.arguments(schemas.CallbackQuerySchema, location="query")
    @oauth.response(302, description="Back to the app with a one-time code, or an OAuth error")
    @oauth.alt_response(429, description="Too many requests from this address; see Retry-After")
    @oauth.alt_response(400, description="Unknown, used, expired or other-browser state")
    def get(self, _args: dict[str, Any]) -> WerkzeugResponse:
        """ID-porten's redirect back after login"""
        return _callback("participant")


@oauth.route("/staff/callback")
class StaffCallback(MethodView):
    decorators = [auth_limit()]

    @oauth.arguments(schemas.CallbackQuerySchema, location="query")
    @oauth.response(302, description="Back to the staff client with a one-time code, or an OAuth error")
    @oauth.alt_response(429, description="Too many requests from this address; see Retry-After")
    @oauth.alt_response(400, description="Unknown, used, expired or other-browser state")
    def get(self, _args: dict[str, Any]) -> WerkzeugResponse:
        """The staff provider's redirect back after login"""
        return _callback("staff")


@oauth.route("/app/token")
class Token(MethodView):
    decorators = [auth_limit()]

    @oauth.arguments(schemas.TokenRequestSchema, location="form")
    @oauth.response(200, schemas.TokenSchema)
    @oauth.alt_response(429, description="Too many requests from this address; see Retry-After")
    @oauth.alt_response(400, description="OAuth error (`error`: invalid_grant, invalid_request, ...)")
    @Blueprint.accepts(FORM)
    def post(self, _args: dict[str, str]) -> WerkzeugResponse:
        """Trade a one-time code, or a refresh token, for tokens"""
        try:
            response = server.create_token_response()
        except OAuthError as refused:
            if refused.commit_first:
                db.session.commit()  # the revocation must outlive the error answer
            raise
        db.session.commit()
        return response


@oauth.route("/app/revoke")
class Revoke(MethodView):
    decorators = [auth_limit()]

    @oauth.arguments(schemas.RevocationRequestSchema, location="form")
    @oauth.response(200, description="Revoked: the token's session has ended (an unknown token: nothing)")
    @oauth.alt_response(429, description="Too many requests from this address; see Retry-After")
    @oauth.alt_response(400, description="OAuth error (`error`: invalid_request, unsupported_token_type)")
    @oauth.alt_response(401, description="Unknown client (`error`: invalid_client)")
    @Blueprint.accepts(FORM)
    def post(self, _args: dict[str, str]) -> WerkzeugResponse:
        """Revoke a refresh or access token (RFC 7009): its whole session ends"""
        response: WerkzeugResponse = server.create_endpoint_response("revocation")
        db.session.commit()
        return response


@oauth.route("/app/logout")
class Logout(MethodView):
    decorators = [auth_limit()]

    @oauth.arguments(schemas.LogoutRequestSchema, location="form")
    @oauth.response(204, description="The session has ended (also when it already had)")
    @oauth.alt_response(429, description="Too many requests from this address; see Retry-After")
    @Blueprint.accepts(FORM)
    def post(self, args: dict[str, str]) -> WerkzeugResponse:
        """End this session (refresh token in the form, or the bearer access token)"""
        header = request.headers.get("Authorization", "")
        if header.lower().startswith("bearer "):
            principal = verify_access_token(header[7:].strip())
            sessions.revoke_family(principal.session_id, "logout")
        elif args.get("refresh_token"):
            sessions.logout_refresh_token(args.get("client_id", ""), args["refresh_token"])
        else:
            raise InvalidRequest("Send the refresh_token, or the access token as a bearer token.")
        db.session.commit()
        return _no_store(Response(status=204))


@oauth.route("/idporten/frontchannel-logout")
class FrontchannelLogout(MethodView):
    decorators = [auth_limit()]

    @oauth.arguments(schemas.FrontchannelLogoutQuerySchema, location="query")
    @oauth.response(200, description="Done (an unknown issuer or sid changes nothing)")
    @oauth.alt_response(429, description="Too many requests from this address; see Retry-After")
    @oauth.alt_response(400, description="No sid")
    def get(self, args: dict[str, str]) -> WerkzeugResponse:
        """ID-porten's front-channel logout: end every session of that ID-porten session"""
        if not args.get("sid"):
            raise BadRequest("sid is required.")
        provider = upstream("idporten")
        frame_ancestors = ["'self'"]
        try:
            metadata = provider.metadata()
        except UpstreamError:
            metadata = {}
        if metadata and args.get("iss") == metadata.get("issuer"):
            sessions.revoke_upstream_session(metadata["issuer"], args["sid"])
            db.session.commit()
        for url in (provider.issuer, metadata.get("authorization_endpoint", "")):
            parts = urlsplit(url)
            if parts.scheme and parts.netloc:
                frame_ancestors.append(f"{parts.scheme}://{parts.netloc}")
        response = _no_store(Response("", status=200, mimetype="text/plain"))
        response.headers["Content-Security-Policy"] = "frame-ancestors " + " ".join(
            dict.fromkeys(frame_ancestors)
        )
        return response


@session_routes.route("/me/sessions")
class MySessions(MethodView):
    decorators = [participant_required]

    @session_routes.doc(security=[{"bearer": []}])
    @session_routes.response(200, schemas.SessionSchema(many=True))
    def get(self) -> list[dict[str, Any]]:
        """The participant's logged-in devices"""
        principal = current_principal()
        return [
            {
                "id": s.id,
                "client_id": s.client_id,
                "created_at": s.created_at,
                "last_used_at": s.last_used_at,
                "auth_time": s.auth_time,
                "acr": s.acr,
                "current": s.id == principal.session_id,
            }
            for s in sessions.list_sessions(principal.subject)
        ]

    @session_routes.doc(security=[{"bearer": []}])
    @session_routes.response(204)
    def delete(self) -> None:
        """Log out on every device"""
        sessions.revoke_participant_sessions(current_principal().subject, "logout_everywhere")
        db.session.commit()


@session_routes.route("/staff/me/sessions")
class StaffSessions(MethodView):
    decorators = [staff_required()]

    @session_routes.doc(security=[{"bearer": []}])
    @session_routes.response(204)
    def delete(self) -> None:
        """Log out on every device (staff)"""
        sessions.revoke_staff_sessions(current_principal().subject, "logout_everywhere")
        db.session.commit()


@session_routes.route("/staff/me")
class StaffMe(MethodView):
    decorators = [staff_required()]

    @session_routes.doc(security=[{"bearer": []}])
    @session_routes.response(200, schemas.StaffMeSchema)
    def get(self) -> dict[str, Any]:
        """The logged-in staff user and their roles"""
        principal = current_principal()
        staff = db.session.get(StaffUser, principal.subject)
        if staff is None:
            raise NotFound("No such staff user.")
        return {"id": staff.id, "name": staff.name, "roles": sorted(principal.roles)}


@wellknown.route("/jwks.json")
class Jwks(MethodView):
    @wellknown.response(200, description="JWK Set")
    def get(self) -> dict[str, Any]:
        """The public keys that verify this service's access tokens"""
        keys: dict[str, Any] = current_app.extensions["engagement.token_keys"].public_jwks()
        return keys


@wellknown.route("/oauth-authorization-server")
class AuthorizationServerMetadata(MethodView):
    @wellknown.response(200, description="RFC 8414 metadata")
    def get(self) -> dict[str, Any]:
        """This service's OAuth metadata for its app clients"""
        return server_module.metadata()


def init_app(app: Flask) -> None:
    app.extensions["engagement.session_check"] = sessions.session_is_active
    app.extensions["engagement.end_participant_sessions"] = sessions.revoke_participant_sessions
    with app.app_context():
        services.app_clients()  # a malformed ENGAGEMENT_APP_CLIENTS fails at start, not at first login
