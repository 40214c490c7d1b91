"""``/console``: the overview."""

from __future__ import annotations

from flask.typing import ResponseReturnValue

from engagement.console.web import STAFF, bp, console_page, render


@bp.get("")
@console_page(*STAFF)
def overview() -> ResponseReturnValue:
    """The overview page."""
    return render("console/overview.html")
