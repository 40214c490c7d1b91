"""The answer matrix of an extract: each numeric variable's value for each response, NaN where none.

Read from the packed ``response.export_values`` (one per response, in the version's export layout),
and from the normalised ``answer`` rows for responses without them; the reading itself is a
:class:`engagement.research.bulk.BulkPath` (plain SQL, or PostgreSQL's binary COPY).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import numpy as np
import sqlalchemy as sa

from engagement.extensions import db
from engagement.questionnaires.models import Answer
from engagement.research import bulk


class AnswerMatrix:
    """The number of each variable (row) for each response (column), NaN if none.

    Held as float32, half the memory of float64, as long as every number is exactly a float32 (codes
    and whole numbers below 2**24 are); a variable given a number that is not gets an exact float64
    row of its own from then on. ``numbers[i]`` is row ``i`` exactly; ``np.asarray(numbers)`` all."""

    def __init__(self, rows: int, columns: int) -> None:
        self.narrow = np.full((rows, columns), np.nan, np.float32)
        self.wide: dict[int, np.ndarray] = {}

    def put(self, rows: np.ndarray, columns: np.ndarray, values: np.ndarray) -> None:
        """``numbers[rows, columns] = values`` (numpy indexing, ``rows`` and ``columns`` broadcast)."""
        values = np.asarray(values, np.float64)
        with np.errstate(over="ignore", invalid="ignore"):
            narrow = values.astype(np.float32)
            inexact = (narrow != values) & ~np.isnan(values)
        self.narrow[rows, columns] = narrow
        if not self.wide and not inexact.any():
            return
        rows, columns, values, inexact = np.broadcast_arrays(rows, columns, values, inexact)
        for row in set(np.unique(rows[inexact]).tolist()) | set(self.wide):
            if row not in self.wide:  # the numbers so far were exact float32s
                self.wide[row] = self.narrow[row].astype(np.float64)
            here = rows == row
            self.wide[row][columns[here]] = values[here]

    def __getitem__(self, row: int) -> np.ndarray:
        row = range(len(self.narrow))[row]
        return self.wide[row] if row in self.wide else self.narrow[row]

    def __len__(self) -> int:
        return len(self.narrow)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        full = self.narrow.astype(np.float64)
        for row, values in self.wide.items():
            full[row] = values
        return full if dtype is None else full.astype(dtype)


def answer_matrix(
    response_ids: Sequence[uuid.UUID],
    names: Sequence[str],
    layout: Sequence[str],
    reader: sa.Connection | None = None,
    path: bulk.BulkPath | None = None,
) -> AnswerMatrix:
    """The number of each variable (row of the result) for each response (column); NaN if none.

    Read from ``response.export_values``, packed in ``layout`` (the version's export variables); a
    response without it (stored before it existed, or packed in another layout) is read from its
    normalised ``answer`` rows. Read through ``reader`` (by default the session's connection), the
    database's own way unless ``path`` says otherwise."""
    reader = reader if reader is not None else db.session.connection()
    path = path if path is not None else bulk.path()
    matrix = AnswerMatrix(len(names), len(response_ids))
    if not response_ids or not names:
        return matrix
    position = {name: i for i, name in enumerate(layout)}
    columns = np.fromiter((position.get(name, -1) for name in names), np.int64, len(names))
    targets = np.flatnonzero(columns >= 0)
    if not len(targets):
        return matrix
    sources = columns[targets]
    legacy = path.packed_numbers(reader, response_ids, len(layout), targets, sources, matrix)
    if legacy:
        path.answer_numbers(reader, response_ids, legacy, names, matrix)
    return matrix


def answer_texts(
    response_ids: Sequence[uuid.UUID], names: Sequence[str], reader: sa.Connection
) -> dict[str, list[str | None]]:
    """``value_text`` of the given (few) variables, per response in order."""
    result: dict[str, list[str | None]] = {name: [None] * len(response_ids) for name in names}
    if not response_ids or not names:
        return result
    position = {rid: i for i, rid in enumerate(response_ids)}
    for chunk in bulk.chunks(response_ids, 500):
        query = sa.select(Answer.response_id, Answer.variable, Answer.value_text).where(
            Answer.response_id.in_(chunk), Answer.variable.in_(names), Answer.value_text.is_not(None)
        )
        for response_id, variable, text in reader.execute(query):
            result[variable][position[response_id]] = text
    return result
