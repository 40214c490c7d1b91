"""Interactive API docs served entirely from this service (Swagger UI's files ship in a package)."""

from __future__ import annotations

from pathlib import Path

import flask_swagger_ui
from flask import Flask, Response, send_from_directory

ASSETS = Path(flask_swagger_ui.__file__).resolve().parent / "dist"


def init_docs(app: Flask) -> None:
    @app.get("/docs/assets/<path:filename>")
    def docs_asset(filename: str) -> Response:
        response = send_from_directory(ASSETS, filename, max_age=86400)
        return response
