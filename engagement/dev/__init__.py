"""Development only: the ID-porten stand-in, demo data and ``flask dev up``. Refused outside development."""

from __future__ import annotations

from flask import Flask


class DevelopmentOnly(RuntimeError):
    pass


def ensure_development(app: Flask) -> None:
    if app.config["ENV"] not in ("development", "test"):
        raise DevelopmentOnly("development tools are refused unless ENGAGEMENT_ENV=development")


def init_app(app: Flask) -> None:
    """Serve the development stand-ins (``ENGAGEMENT_DEV_IDPORTEN``); never in production."""
    ensure_development(app)
