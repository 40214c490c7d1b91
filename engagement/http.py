"""Request guards every endpoint shares: strict content types on request bodies, no sniffing of answers."""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app, request
from werkzeug.exceptions import UnsupportedMediaType
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

JSON = "application/json"
_BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


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
    hops = app.config["TRUSTED_PROXIES"]
    if hops:
        # Behind a load balancer every request comes from its address; without this, one client's
        # rate limit would be every client's.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]

    @app.after_request
    def _no_sniffing(response: Any) -> Any:
        # Answers echo text participants typed; a browser must never take a JSON body for HTML.
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
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
