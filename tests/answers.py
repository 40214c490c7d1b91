"""Answer sets for the questionnaires the repository ships, shared by tests and the benches in bench/."""

from __future__ import annotations

from typing import Any


def ung18_answers(version: int = 1, **changes: Any) -> dict[str, Any]:
    """A complete, valid answer set for ung18 v1 or v2 (a young woman who has moved out)."""
    answers: dict[str, Any] = {
        "XA10": [2, 9],
        "XA23_TEKST": None,
        "XA24": True,
        "XA25": 2,
        "XA26": [4],
        "XA32": 1,
        "XA33": 12,
        "XA34": 6,
        "XA37": 1,
        "XA38": 1,
        "XA39": False,
        "XA40": 168,
        "XA41": 62,
        "XA42": 2,
        "XA43": 7,
        "XA44": 4,
        "XA45": "23:30",
        "XA46": 7.5,
        "XA48": False,
        "XA49": False,
        "XA75": 1,
        "XA76": 3,
        "XA76_N": 5,
        "XA77": 1,
        "XA78": 3,
        "XA79": 2,
        "XA80": 2,
        "XA81": False,
        "XA85": True,
        "XA86": "2025-08",
        "XA87": "2025-08-15",
        "XA88": 3,
        "XA90_TEKST": "Nei takk, 01.02.2003 er ingen dato å sende.",
    }
    answers.update({f"XA{n}": 1 + n % 4 for n in range(50, 55)})
    answers.update({f"XA{n}": 1 + n % 7 for n in range(55, 60)})
    answers.update({f"XA{n}": 1 + n % 3 for n in range(60, 73)})
    if version == 2:
        for name in ("XA42", "XA46", "XA77"):
            answers.pop(name)
        answers.update({"XA47": 3, "XA83": 2})
    answers.update(changes)
    return {k: v for k, v in answers.items() if v is not None}
