"""Reading and writing many rows of an extract at once, behind one small interface (:class:`BulkPath`):
the plain path here (SQL statements through SQLAlchemy, any database) and PostgreSQL's binary COPY in
:mod:`engagement.research.pgcopy`, which :func:`path` chooses on PostgreSQL.

The fast path promises exactly the plain path's result (the same answer matrix, the same rows stored),
only in fewer round trips; ``tests/research/test_answer_matrix.py`` reads the same responses both ways
on PostgreSQL and compares them, and every extract test runs on SQLite (plain) and PostgreSQL (COPY).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import sqlalchemy as sa

from engagement.extensions import db
from engagement.questionnaires.models import Answer, Response
from engagement.research.models import ExtractResponse, Pseudonym

if TYPE_CHECKING:
    from engagement.research.matrix import AnswerMatrix


class DeliveredRow(Protocol):
    """A response delivered in an extract, and whose it is."""

    response_id: uuid.UUID
    participant_id: uuid.UUID


class BulkPath(Protocol):
    """How an extract reads the answers of many responses and records what it delivered."""

    def writer(self) -> Any:
        """What :meth:`store_pseudonyms` and :meth:`record_delivered` write through; taken in the
        session's thread, it lets them run in another (the session is not used meanwhile)."""

    def packed_numbers(
        self,
        reader: sa.Connection,
        response_ids: Sequence[uuid.UUID],
        width: int,
        targets: np.ndarray,
        sources: np.ndarray,
        matrix: AnswerMatrix,
    ) -> list[int]:
        """Put each response's packed numbers (``width`` of them; ``sources`` of them into the rows
        ``targets``) into its column of ``matrix``; returns the columns of responses without them."""

    def answer_numbers(
        self,
        reader: sa.Connection,
        response_ids: Sequence[uuid.UUID],
        rows: Sequence[int],
        names: Sequence[str],
        matrix: AnswerMatrix,
    ) -> None:
        """Fill the columns ``rows`` of ``matrix`` (responses without packed numbers) from the
        normalised ``answer`` table, the variables ``names`` in the matrix's row order."""

    def store_pseudonyms(
        self, writer: Any, project_id: uuid.UUID, drawn: Sequence[tuple[uuid.UUID, int]], now: datetime
    ) -> None:
        """Store newly drawn pseudonyms (participant, number) of the project."""

    def record_delivered(
        self, writer: Any, extract_id: uuid.UUID, project_id: uuid.UUID, rows: Sequence[DeliveredRow]
    ) -> None:
        """The ledger: each delivered response, under the participant's pseudonym in the project."""


class PlainPath:
    """SQL statements through SQLAlchemy, in chunks: the readable path, on any database."""

    def writer(self) -> Any:
        return None

    def packed_numbers(
        self,
        reader: sa.Connection,
        response_ids: Sequence[uuid.UUID],
        width: int,
        targets: np.ndarray,
        sources: np.ndarray,
        matrix: AnswerMatrix,
    ) -> list[int]:
        legacy: list[int] = []
        packed = sa.type_coerce(Response.export_values, sa.LargeBinary())  # the bytes, for numpy
        for offset in range(0, len(response_ids), 500):
            chunk = response_ids[offset : offset + 500]
            position = {rid: offset + i for i, rid in enumerate(chunk)}
            query = sa.select(Response.id, packed).where(Response.id.in_(chunk))
            for response_id, numbers in reader.execute(query):
                if numbers is None or len(numbers) != 8 * width:
                    legacy.append(position[response_id])
                    continue
                values = np.frombuffer(numbers, ">f8")[sources]
                matrix.put(targets, np.array(position[response_id]), values)
        return legacy

    def answer_numbers(
        self,
        reader: sa.Connection,
        response_ids: Sequence[uuid.UUID],
        rows: Sequence[int],
        names: Sequence[str],
        matrix: AnswerMatrix,
    ) -> None:
        position = {response_ids[row]: row for row in rows}
        index = {name: i for i, name in enumerate(names)}
        for chunk in chunks(list(position), 500):
            query = sa.select(Answer.response_id, Answer.variable, Answer.value_number).where(
                Answer.response_id.in_(chunk), Answer.value_number.is_not(None)
            )
            for response_id, variable, number in reader.execute(query):
                if variable in index:
                    matrix.put(np.array(index[variable]), np.array(position[response_id]), np.array(number))

    def store_pseudonyms(
        self, writer: Any, project_id: uuid.UUID, drawn: Sequence[tuple[uuid.UUID, int]], now: datetime
    ) -> None:
        rows = [
            {
                "id": uuid.uuid4(),
                "project_id": project_id,
                "participant_id": pid,
                "pseudonym": n,
                "created_at": now,
            }
            for pid, n in drawn
        ]
        _insert(Pseudonym.__table__, rows)

    def record_delivered(
        self, writer: Any, extract_id: uuid.UUID, project_id: uuid.UUID, rows: Sequence[DeliveredRow]
    ) -> None:
        if not rows:
            return
        ids = dict(
            db.session.execute(
                sa.select(Pseudonym.participant_id, Pseudonym.id).where(Pseudonym.project_id == project_id)
            ).all()
        )
        _insert(
            ExtractResponse.__table__,
            [
                {
                    "extract_id": extract_id,
                    "response_id": r.response_id,
                    "pseudonym_id": ids[r.participant_id],
                }
                for r in rows
            ],
        )


PLAIN = PlainPath()


def path() -> BulkPath:
    """The database's own path: PostgreSQL's binary COPY, or else the plain one."""
    if db.is_postgres:
        from engagement.research.pgcopy import COPY

        return COPY
    return PLAIN


def chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _insert(table: Any, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert many rows in one statement; the ORM session does not see them as objects."""
    if not rows:
        return
    db.session.flush()
    db.session.execute(sa.insert(table), list(rows))
