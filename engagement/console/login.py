"""Signing in and out of the console: the staff provider's login into a browser session."""

from __future__ import annotations

from flask import current_app, g, redirect, request, url_for
from flask.typing import ResponseReturnValue
from werkzeug.wrappers import Response as WerkzeugResponse

from engagement.auth import services as auth
from engagement.auth.errors import LoginFailed
from engagement.auth.models import LoginTransaction
from engagement.auth.routes import LOGIN_COOKIE
from engagement.console import services as console
from engagement.console.web import (
    STAFF,
    bp,
    clear_session_cookie,
    console_page,
    current_user,
    public_page,
    render,
    secure_cookies,
    set_session_cookie,
)
from engagement.extensions import db
from engagement.ratelimit import auth_limit


@bp.get("/login")
@public_page
def login() -> ResponseReturnValue:
    """The sign-in page (an already signed-in user goes on to the console)."""
    if current_user() is not None:
        return redirect(console.safe_next(request.args.get("next")), 303)
    return render(
        "console/login.html",
        next=console.safe_next(request.args.get("next")),
        error=request.args.get("error", "")[:60],
        ended=request.args.get("ended") == "1",
    )


@bp.get("/login/start")
@auth_limit()
@public_page
def login_start() -> WerkzeugResponse:
    """To the staff OpenID provider, with a login transaction bound to this browser."""
    started = console.start_login(request.args.get("next"), request.cookies.get(LOGIN_COOKIE))
    response = redirect(started.upstream_url, 302)
    response.set_cookie(
        LOGIN_COOKIE,
        started.browser_secret,
        max_age=int(auth.LOGIN_LIFETIME.total_seconds()),
        path="/auth",
        httponly=True,
        secure=secure_cookies(),
        samesite="Lax",
    )
    return response


def finish(login: LoginTransaction, args: dict[str, str]) -> WerkzeugResponse:
    """The staff provider came back for a console login (called from the staff callback)."""
    try:
        secret, next_path = console.finish_login(login, args)
    except LoginFailed as failed:
        db.session.commit()  # the consumed login and its audit event stay
        return redirect(url_for("console.login", error=failed.description), 303)
    db.session.commit()
    response = redirect(next_path, 303)
    set_session_cookie(response, secret)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/logout")
@console_page(*STAFF)
def logout() -> WerkzeugResponse:
    """End this console session."""
    console.logout(g.console_user)
    return _signed_out()


@bp.post("/logout/everywhere")
@console_page(*STAFF)
def logout_everywhere() -> WerkzeugResponse:
    """End every session of this staff user, in the console and the API."""
    console.logout_everywhere(g.console_user)
    return _signed_out()


def _signed_out() -> WerkzeugResponse:
    response = redirect(url_for("console.login", ended="1"), 303)
    clear_session_cookie(response)
    response.delete_cookie(
        current_app.config["SESSION_COOKIE_NAME"], path=current_app.config["SESSION_COOKIE_PATH"]
    )
    return response
