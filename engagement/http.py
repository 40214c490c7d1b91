"""Request guards every endpoint shares: trusted hosts, strict content types on request bodies, and the
headers of every answer (no sniffing, no framing, no caching of personal data)."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, current_app, request
from werkzeug.exceptions import UnsupportedMediaType
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

JSON = "application/json"
_BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
LOOPBACK_HOSTS = ("127.0.0.1", "localhost")
# Answers under these prefixes may carry personal data: no cache keeps them (ASVS V8.2.1), unless the
# route marks its answer ``public`` (a published questionnaire version is the same for everyone).
NO_STORE_PREFIXES = ("/v1/", "/auth/")
# The API answers JSON and files: a browser that renders one may load nothing and frame nothing.
API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
# /docs is Swagger UI from this service's own files; its one inline script is allowed by its hash.
# Inline styles stay allowed: Swagger UI sets style attributes as it renders, and a style cannot run code.
DOCS_CSP = (
    "default-src 'none'; script-src 'self'{hashes}; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.S)


def trusted_hosts(config: Mapping[str, Any]) -> list[str]:
    """The ``Host`` names this service answers to: ``PUBLIC_URL``'s, ``TRUSTED_HOSTS``, and the
    loopback names outside production (``make run``, tests)."""
    hosts = [urlsplit(str(config["PUBLIC_URL"])).hostname or ""]
    extra = config.get("TRUSTED_HOSTS") or []
    if isinstance(extra, str):
        extra = extra.replace(" ", ",").split(",")
    hosts.extend(h.strip().lower() for h in extra)
    if config["ENV"] != "production":
        hosts.extend(LOOPBACK_HOSTS)
    return list(dict.fromkeys(h for h in hosts if h))


def docs_csp(html: str) -> str:
    """The /docs policy, allowing exactly the inline scripts of this page by their SHA-256."""
    digests = [
        base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
        for script in _INLINE_SCRIPT.findall(html)
    ]
    return DOCS_CSP.format(hashes="".join(f" 'sha256-{d}'" for d in digests))


def accepted_media_types() -> frozenset[str]:
    """The media types the matched view declared with ``Blueprint.accepts`` (JSON when it declared none)."""
    view = current_app.view_functions.get(request.endpoint or "")
    handler = view
    view_class = getattr(view, "view_class", None)
    if view_class is not None:
        handler = getattr(view_class, request.method.lower(), None)
    declared = getattr(handler, "_accepts", None)
    return declared if declared is not None else frozenset({JSON})


class BoundedIntegerConverter(IntegerConverter):
    """``<int:...>`` path parameters fit a 32-bit column; larger ones simply match no route (404)."""

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", 2**31 - 1)
        super().__init__(map, *args, **kwargs)


def init_app(app: Flask) -> None:
    app.url_map.converters["int"] = BoundedIntegerConverter
    # Flask refuses any other Host with 400 (SecurityError, answered as a problem): no redirect or
    # link is ever built on a host a client made up.
    app.config["TRUSTED_HOSTS"] = trusted_hosts(app.config)
    hops = app.config["TRUSTED_PROXIES"]
    if hops:
        # Behind a load balancer every request comes from its address; without this, one client's
        # rate limit would be every client's.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]

    @app.after_request
    def _security_headers(response: Any) -> Any:
        # Answers echo text participants typed; a browser must never take a JSON body for HTML.
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        if "Content-Security-Policy" not in response.headers:  # a route (or the console) may set its own
            if request.endpoint == "api-docs.openapi_swagger_ui" and response.mimetype == "text/html":
                policy = docs_csp(response.get_data(as_text=True))
            elif request.endpoint == "docs_asset":
                policy = DOCS_CSP.format(hashes="")
            else:
                policy = API_CSP
            response.headers["Content-Security-Policy"] = policy
            response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        if request.path.startswith(NO_STORE_PREFIXES) and "public" not in response.headers.get(
            "Cache-Control", ""
        ):
            response.headers["Cache-Control"] = "no-store"
        return response

    @app.before_request
    def _strict_content_type() -> None:
        if request.method not in _BODY_METHODS or request.endpoint is None:
            return
        has_body = bool(request.content_length) or "chunked" in request.headers.get("Transfer-Encoding", "")
        if not has_body:
            return
        allowed = accepted_media_types()
        if request.mimetype not in allowed:
            raise UnsupportedMediaType(
                f"Send the body as {' or '.join(sorted(allowed))}; got {request.mimetype or 'no Content-Type'}."
            )
