"""PostgreSQL's fast path for extracts: binary ``COPY`` in and out, the rows laid out and decoded
with numpy rather than one Python call per row or per value.

It promises exactly what the plain path of :mod:`engagement.research.bulk` gives (that module's
text says how the tests compare the two). The binary COPY format: a signature and header, then per
row an int2 field count and per field an int4 length (-1: NULL) and the value, big-endian; a trailer
of -1 ends it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import sqlalchemy as sa

from engagement.extensions import db

if TYPE_CHECKING:
    from engagement.research.bulk import DeliveredRow
    from engagement.research.matrix import AnswerMatrix

_PAIR = np.dtype([("col", ">i2"), ("value", ">f8")])  # int2send(col) || float8send(value)
_COPY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00"
_COPY_HEADER = 19  # signature (11), flags (4), header extension length (4)
_SCATTER_EVERY = 5_000  # responses decoded per numpy scatter (bounds the bytes held at once)
# A COPY row (row_no, export_values): int2 field count, int4 length + int4 row_no, int4 length (-1:
# NULL), then the packed numbers (big-endian doubles); the same layout for any other bytea.
_ROW_NO, _ARRAY = slice(6, 10), 14


class UnexpectedCopyRow(RuntimeError):
    pass


class CopyPath:
    """:class:`engagement.research.bulk.BulkPath` through the psycopg driver connection."""

    def writer(self) -> Any:
        """The session's driver connection (psycopg), for COPY and statements sent as they are."""
        return db.session.connection().connection.driver_connection

    def packed_numbers(
        self,
        reader: sa.Connection,
        response_ids: Sequence[uuid.UUID],
        width: int,
        targets: np.ndarray,
        sources: np.ndarray,
        matrix: AnswerMatrix,
    ) -> list[int]:
        """One binary COPY of (row number, export_values), the packed numbers decoded with numpy."""
        record = _packed_row(width)
        legacy: list[int] = []
        batch: list[bytes] = []
        raw: Any = reader.connection.driver_connection
        with raw.cursor() as cursor:
            _load_rows(cursor, range(len(response_ids)), response_ids)
            statement = (
                "COPY (SELECT r.row_no, p.export_values FROM research_extract_rows r "
                "JOIN response p ON p.id = r.response_id) TO STDOUT (FORMAT binary)"
            )
            with cursor.copy(statement) as copy:
                for block in copy:
                    message = bytes(block)
                    if message.startswith(_COPY_SIGNATURE):
                        message = message[_COPY_HEADER:]
                    if len(message) <= 2:  # the trailer (-1), or a header sent on its own
                        continue
                    if len(message) == record.itemsize:
                        batch.append(message)
                        if len(batch) >= _SCATTER_EVERY:
                            _scatter_packed(np.frombuffer(b"".join(batch), record), targets, sources, matrix)
                            batch = []
                    else:  # NULL, or packed in another layout
                        legacy.append(int.from_bytes(message[_ROW_NO], "big", signed=True))
            if batch:
                _scatter_packed(np.frombuffer(b"".join(batch), record), targets, sources, matrix)
        return legacy

    def answer_numbers(
        self,
        reader: sa.Connection,
        response_ids: Sequence[uuid.UUID],
        rows: Sequence[int],
        names: Sequence[str],
        matrix: AnswerMatrix,
    ) -> None:
        """One binary COPY row per response, its answers packed as (column, value) pairs (aggregated
        per response on the server: PostgreSQL sends a message per row)."""
        raw: Any = reader.connection.driver_connection
        with raw.cursor() as cursor:
            _load_rows(cursor, rows, [response_ids[row] for row in rows])
            empty_temp_table(
                cursor, "research_extract_columns", "variable varchar(64) PRIMARY KEY, col_no int2"
            )
            with cursor.copy("COPY research_extract_columns (variable, col_no) FROM STDIN") as copy:
                for number, name in enumerate(names):
                    copy.write_row((name, number))
            cursor.execute("ANALYZE research_extract_columns")
            statement = (
                "COPY (SELECT r.row_no, string_agg(int2send(c.col_no) || float8send(a.value_number), "
                "''::bytea) FROM answer a JOIN research_extract_rows r ON r.response_id = a.response_id "
                "JOIN research_extract_columns c ON c.variable = a.variable "
                "WHERE a.value_number IS NOT NULL GROUP BY r.row_no) TO STDOUT (FORMAT binary)"
            )
            row_numbers: list[int] = []
            payloads: list[bytes] = []
            with cursor.copy(statement) as copy:
                for block in copy:
                    message = bytes(block)
                    if message.startswith(_COPY_SIGNATURE):
                        message = message[_COPY_HEADER:]
                    if len(message) <= 2:
                        continue
                    row_numbers.append(int.from_bytes(message[_ROW_NO], "big", signed=True))
                    payloads.append(message[_ARRAY:])
                    if len(row_numbers) >= _SCATTER_EVERY:
                        _scatter(matrix, row_numbers, payloads)
                        row_numbers, payloads = [], []
            _scatter(matrix, row_numbers, payloads)

    def store_pseudonyms(
        self, writer: Any, project_id: uuid.UUID, drawn: Sequence[tuple[uuid.UUID, int]], now: datetime
    ) -> None:
        """One binary COPY into a temporary table, then one statement, the row ids drawn by the server
        as random UUIDs, like uuid4; every pseudonym fits an int4."""
        if not drawn:
            return
        with writer.cursor() as cursor:
            empty_temp_table(cursor, "research_pseudonym_drawn", "participant_id uuid, pseudonym int4")
            copy_in(
                cursor,
                "research_pseudonym_drawn",
                {
                    "participant_id": [pid for pid, _ in drawn],
                    "pseudonym": np.fromiter((number for _, number in drawn), np.int32, len(drawn)),
                },
            )
            cursor.execute(
                "INSERT INTO research_pseudonym (id, project_id, participant_id, pseudonym, created_at) "
                "SELECT gen_random_uuid(), %s, participant_id, pseudonym, %s FROM research_pseudonym_drawn",
                (project_id, now),
            )

    def record_delivered(
        self, writer: Any, extract_id: uuid.UUID, project_id: uuid.UUID, rows: Sequence[DeliveredRow]
    ) -> None:
        """Through the driver connection ``writer`` alone, so that it may run in another thread."""
        if not rows:
            return
        with writer.cursor() as cursor:
            empty_temp_table(cursor, "research_extract_delivered", "response_id uuid, participant_id uuid")
            copy_in(
                cursor,
                "research_extract_delivered",
                {
                    "response_id": [r.response_id for r in rows],
                    "participant_id": [r.participant_id for r in rows],
                },
            )
            cursor.execute(
                "INSERT INTO research_extract_response (extract_id, response_id, pseudonym_id) "
                "SELECT %s, d.response_id, p.id FROM research_extract_delivered d "
                "JOIN research_pseudonym p ON p.project_id = %s AND p.participant_id = d.participant_id",
                (extract_id, project_id),
            )
            if cursor.rowcount != len(rows):
                raise RuntimeError("a delivered response has no pseudonym")


COPY = CopyPath()


def empty_temp_table(cursor: Any, table: str, columns: str) -> None:
    """The temporary ``table`` of ``columns`` (SQL), empty: created at its first use in a transaction
    and dropped when it commits."""
    cursor.execute(f"CREATE TEMP TABLE IF NOT EXISTS {table} ({columns}) ON COMMIT DROP")
    cursor.execute(f"TRUNCATE {table}")


def copy_in(cursor: Any, table: str, columns: Mapping[str, Sequence[uuid.UUID] | np.ndarray]) -> None:
    """One binary ``COPY`` of UUID columns (sequences of UUIDs) and int4 columns (numpy arrays) into
    ``table``, the rows laid out with numpy rather than one Python call per row."""
    fields: list[tuple[str, str]] = [("count", ">i2")]
    for number, values in enumerate(columns.values()):
        fields += [
            (f"length{number}", ">i4"),
            (f"value{number}", ">i4" if isinstance(values, np.ndarray) else "V16"),
        ]
    count = len(next(iter(columns.values())))
    records = np.empty(count, np.dtype(fields))
    records["count"] = len(columns)
    for number, values in enumerate(columns.values()):
        if isinstance(values, np.ndarray):
            records[f"length{number}"], records[f"value{number}"] = 4, values
        else:
            records[f"length{number}"] = 16
            records[f"value{number}"] = np.frombuffer(b"".join(u.bytes for u in values), "V16")
    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT binary)") as copy:
        copy.write(_COPY_SIGNATURE + bytes(8) + records.tobytes() + b"\xff\xff")


def _packed_row(width: int) -> np.dtype:
    """A COPY row whose bytea holds ``width`` packed numbers, as one numpy record."""
    return np.dtype(
        {
            "names": ["row_no", "length", "values"],
            "formats": [">i4", ">i4", (">f8", (width,))],
            "offsets": [6, 10, _ARRAY],
            "itemsize": _ARRAY + 8 * width,
        }
    )


def _scatter_packed(
    records: np.ndarray, targets: np.ndarray, sources: np.ndarray, matrix: AnswerMatrix
) -> None:
    width = records.dtype["values"].shape[0]
    if not (records["length"] == 8 * width).all():  # the size matched, so this is no row of ours
        raise UnexpectedCopyRow("export_values does not hold the packed numbers of this width")
    values = records["values"]  # (rows, width), big-endian
    matrix.put(targets[:, None], records["row_no"].astype(np.int64)[None, :], values[:, sources].T)


def _load_rows(cursor: Any, row_numbers: Iterable[int], response_ids: Sequence[uuid.UUID]) -> None:
    empty_temp_table(cursor, "research_extract_rows", "response_id uuid PRIMARY KEY, row_no int4")
    numbers = np.fromiter(row_numbers, np.int32)
    copy_in(cursor, "research_extract_rows", {"response_id": response_ids, "row_no": numbers})
    cursor.execute("ANALYZE research_extract_rows")


def _scatter(matrix: AnswerMatrix, rows: list[int], payloads: list[bytes]) -> None:
    if not rows:
        return
    pairs = np.frombuffer(b"".join(payloads), dtype=_PAIR)
    counts = np.fromiter((len(p) // _PAIR.itemsize for p in payloads), np.int64, len(payloads))
    matrix.put(
        pairs["col"].astype(np.int64), np.repeat(np.asarray(rows, dtype=np.int64), counts), pairs["value"]
    )
