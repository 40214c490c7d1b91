"""The identity vault: a fødselsnummer becomes its keyed hash at the door and is never kept."""

from __future__ import annotations

import hashlib
import hmac

from flask import current_app


def hash_pid(pid: str) -> str:
    """HMAC-SHA256 of a fødselsnummer or D-number with the service's pepper (hex)."""
    pepper = current_app.config["PID_PEPPER"].encode()
    return hmac.new(pepper, pid.strip().encode(), hashlib.sha256).hexdigest()
