"""What every console page shares: the blueprint, who is signed in, the roles a page needs, the
language, security headers, CSRF, one commit per request, and server-side sorting and paging.

A page is a function under ``bp`` decorated with :func:`console_page` naming the roles of the API route
it mirrors (``tests/auth/test_route_access.py`` checks both). Pages never commit: a request that ends
below 400 is committed once here, anything else is rolled back.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, cast
from urllib.parse import urlencode

import sqlalchemy as sa
from flask import Blueprint, Flask, current_app, g, redirect, render_template, request, url_for
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.routing import BuildError
from werkzeug.wrappers import Response as WerkzeugResponse

from engagement.console import i18n
from engagement.console import services as console
from engagement.errors import problem_response
from engagement.extensions import db
from engagement.problems import Forbidden, Unauthorized
from engagement.security import ROLES, verify_access_token

COOKIE = "engagement_console"
FORMS = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})
STAFF = ROLES
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
PAGE_SIZE = 25

F = TypeVar("F", bound=Callable[..., Any])

bp = Blueprint(
    "console",
    __name__,
    url_prefix="/console",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)
csrf = CSRFProtect()


# --- who is signed in -------------------------------------------------------------------------------


def current_user() -> console.ConsoleUser | None:
    """The signed-in staff user of this request (from the console cookie), or None."""
    if "console_user" not in g:
        g.console_user = console.resolve(request.cookies.get(COOKIE))
    user: console.ConsoleUser | None = g.console_user
    return user


def _refuse_bearer_tokens() -> None:
    """The console is for browsers with a staff session; an access token (a participant's above all)
    never opens it."""
    header = request.headers.get("Authorization", "")
    if not header.lower().startswith("bearer "):
        return
    principal = verify_access_token(header[7:].strip())
    if principal.is_participant:
        raise Forbidden("Participants cannot use the staff console.")
    raise Unauthorized("The console uses a browser session: sign in at /console/login.")


def console_page(*roles: str) -> Callable[[F], F]:
    """Only staff holding one of ``roles`` may open the page; roles must be named (no default)."""
    if not roles:
        raise ValueError("a console page names the roles that may open it")
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown roles {unknown}")

    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            user = current_user()
            if user is None:
                if request.method in ("GET", "HEAD"):
                    return redirect(url_for("console.login", next=request.full_path.rstrip("?")), 303)
                raise Unauthorized("Your console session has ended: sign in again.")
            if not user.has_any(roles):
                raise Forbidden(f"This page needs one of the roles: {', '.join(roles)}.")
            return view(*args, **kwargs)

        wrapper._access = "staff:" + ",".join(roles)  # type: ignore[attr-defined]
        wrapper._accepts = FORMS  # type: ignore[attr-defined]
        return cast(F, wrapper)

    return decorator


def public_page(view: F) -> F:
    """A console page anyone may open (the sign-in page)."""
    view._access = "anyone (console sign-in)"  # type: ignore[attr-defined]
    view._accepts = FORMS  # type: ignore[attr-defined]
    return view


# --- rendering ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NavItem:
    endpoint: str
    label: str
    roles: tuple[str, ...]


# The menu, in order; a page appears when its endpoint exists and the user has one of its roles.
NAV: list[NavItem] = [
    NavItem("console.overview", "nav.overview", STAFF),
    NavItem("console.waves", "nav.waves", ("coordinator", "admin")),
    NavItem("console.questionnaires", "nav.questionnaires", STAFF),
    NavItem("console.consent", "nav.consent", ("coordinator", "admin")),
    NavItem("console.roster", "nav.roster", ("coordinator", "admin")),
    NavItem("console.reminders", "nav.reminders", ("coordinator", "admin")),
    NavItem("console.projects", "nav.projects", STAFF),
    NavItem("console.variables", "nav.variables", STAFF),
    NavItem("console.audit", "nav.audit", ("admin",)),
]


def _menu(user: console.ConsoleUser | None) -> list[dict[str, Any]]:
    if user is None:
        return []
    items = []
    for item in NAV:
        if not user.has_any(item.roles):
            continue
        try:
            href = url_for(item.endpoint)
        except BuildError:
            continue
        items.append({"href": href, "label": item.label, "current": request.endpoint == item.endpoint})
    return items


def render(template: str, status: int = 200, **context: Any) -> tuple[str, int]:
    return render_template(template, **context), status


def lang_url(language: str) -> str:
    args = {k: v for k, v in request.args.items() if k != "lang"}
    return request.path + "?" + urlencode({**args, "lang": language})


@bp.context_processor
def _context() -> dict[str, Any]:
    language = g.get("console_lang", i18n.DEFAULT)

    def translate(key: str, **values: object) -> str:
        return i18n.translate(language, key, **values)

    return {
        "_": translate,
        "lang": language,
        "other_lang": "en" if language == "nb" else "nb",
        "lang_url": lang_url,
        "user": g.get("console_user"),
        "menu": _menu(g.get("console_user")),
        "oslo_time": i18n.oslo_time,
        "oslo_date": i18n.oslo_date,
    }


# --- sorting and paging on the server -------------------------------------------------------------


@dataclass
class Page:
    """One page of a sorted table: its rows and what the template needs for headers and the pager."""

    rows: Sequence[Any]
    page: int
    pages: int
    total: int
    sort: str
    descending: bool

    def sort_url(self, column: str) -> str:
        descending = not self.descending if column == self.sort else False
        args = {**request.args, "sort": column, "dir": "desc" if descending else "asc", "page": "1"}
        return request.path + "?" + urlencode(args)

    def page_url(self, page: int) -> str:
        return request.path + "?" + urlencode({**request.args, "page": str(page)})

    def aria_sort(self, column: str) -> str:
        if column != self.sort:
            return "none"
        return "descending" if self.descending else "ascending"


def paginate(
    query: sa.Select[*tuple[Any, ...]],
    columns: dict[str, Any],
    default: str,
    *,
    default_descending: bool = False,
    page_size: int = PAGE_SIZE,
) -> Page:
    """Sort ``query`` by the column ``?sort=`` names (one of ``columns``), ``?dir=asc|desc``, and return
    page ``?page=`` of it, all in SQL."""
    sort = request.args.get("sort", default)
    if sort not in columns:
        sort = default
    direction = request.args.get("dir")
    descending = default_descending if direction not in ("asc", "desc") else direction == "desc"
    total = int(db.session.scalar(sa.select(sa.func.count()).select_from(query.subquery())) or 0)
    pages = max(1, math.ceil(total / page_size))
    try:
        page = min(max(1, int(request.args.get("page", "1"))), pages)
    except ValueError:
        page = 1
    column = columns[sort]
    ordered = query.order_by(column.desc() if descending else column.asc())
    rows = db.session.execute(ordered.limit(page_size).offset((page - 1) * page_size)).all()
    return Page(rows, page, pages, total, sort, descending)


# --- every console request ------------------------------------------------------------------------


@bp.before_request
def _before() -> None:
    language, asked = i18n.pick_language(request)
    g.console_lang, g.console_lang_asked = language, asked
    if request.endpoint != "console.static":
        _refuse_bearer_tokens()
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        csrf.protect()


@bp.after_request
def _after(response: WerkzeugResponse) -> WerkzeugResponse:
    if request.endpoint == "console.static":
        return response
    if response.status_code < 400:
        db.session.commit()
    else:
        db.session.rollback()
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "same-origin"
    if g.get("console_lang_asked"):
        response.set_cookie(
            i18n.COOKIE, g.console_lang, max_age=365 * 24 * 3600, path="/console", samesite="Lax",
            secure=secure_cookies(), httponly=True,
        )  # fmt: skip
    return response


@bp.errorhandler(CSRFError)
def _csrf_failed(error: CSRFError) -> WerkzeugResponse:
    return problem_response(
        400,
        "csrf-token-invalid",
        "The form's security token is missing or out of date",
        "Reload the page and send the form again. " + str(error.description),
    )


def secure_cookies() -> bool:
    """Cookies are Secure outside development (and wherever the service is reached over https)."""
    config = current_app.config
    return config["ENV"] not in ("development", "test") or str(config["PUBLIC_URL"]).startswith("https://")


def set_session_cookie(response: WerkzeugResponse, secret: str) -> None:
    response.set_cookie(
        COOKIE, secret, path="/console", httponly=True, samesite="Lax", secure=secure_cookies()
    )


def clear_session_cookie(response: WerkzeugResponse) -> None:
    response.delete_cookie(COOKIE, path="/console", httponly=True, samesite="Lax", secure=secure_cookies())


def init_app(app: Flask) -> None:
    # CSRF is checked for the console only (in its before_request); the JSON API uses bearer tokens.
    app.config.setdefault("WTF_CSRF_CHECK_DEFAULT", False)
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)  # the token lives as long as the browser session
    # Flask's own session cookie holds only the CSRF secret of the console's forms.
    app.config.update(
        SESSION_COOKIE_NAME="engagement_console_csrf",
        SESSION_COOKIE_PATH="/console",
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_HTTPONLY=True,
    )
    with app.app_context():
        app.config["SESSION_COOKIE_SECURE"] = secure_cookies()
    csrf.init_app(app)
