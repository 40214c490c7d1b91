"""Unbound extensions; ``create_app`` binds them with ``init_app``."""

from engagement.api import Api
from engagement.db import Database

db = Database()
api = Api()
