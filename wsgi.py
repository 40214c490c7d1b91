"""The one module-level app, for gunicorn (``gunicorn wsgi:app``) and ``flask --app wsgi``."""

from engagement import create_app

app = create_app()
