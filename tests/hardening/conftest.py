"""Fixtures of the hardening tests: the questionnaire fixtures, and the app served by gunicorn."""

from __future__ import annotations

from tests.questionnaires.conftest import make_task, published, tiny_folder

__all__ = ["make_task", "published", "tiny_folder"]
