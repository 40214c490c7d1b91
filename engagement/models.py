"""Every domain's models, imported in one place so that mappers and Alembic see the whole schema."""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

from engagement import audit
from engagement.db import Base

DOMAINS = (
    "participants",
    "auth",
    "consent",
    "questionnaires",
    "devices",
    "waves",
    "research",
    "withdrawal",
    "catalogue",
    "console",
)


def import_domain_modules(name: str) -> list[ModuleType]:
    """Import ``engagement.<domain>.<name>`` for each domain that has one, in layer order."""
    modules: list[ModuleType] = []
    for domain in DOMAINS:
        qualified = f"engagement.{domain}.{name}"
        if importlib.util.find_spec(f"engagement.{domain}") and importlib.util.find_spec(qualified):
            modules.append(importlib.import_module(qualified))
    return modules


import_domain_modules("models")

__all__ = ["Base", "audit"]
