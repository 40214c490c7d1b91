"""The last safety net before a delivery leaves: no fødselsnummer, and no dates in the data.

Every file is searched byte by byte for an 11-digit run that passes the fødselsnummer mod-11 check
(including the rule for numbers issued from 2032, and D-, H- and synthetic numbers, which all pass the
same check), whatever stands next to it, except digits of a checksum or identifier: a run of 32 or more
hexadecimal characters holding a letter (SHA-256 sums hold 11 digits in a row that pass the check in
about one digest in 650) or a UUID. Parquet files, being compressed, are read back instead: text cells are searched the same
way, and whole numbers are checked as 11-digit numbers, and as 10-digit ones with the leading zero a
numeric column drops (except in key columns, whose pseudonyms are 10-digit by design and below any
number a zero-led fødselsnummer can become beyond 2,147,483,647). Data files (CSV and Parquet) must also
hold no date (ISO ``YYYY-MM-DD`` or Norwegian ``DD.MM.YYYY``) and no date or time column. Findings name
the file and place, never the number found.

A data file written from a dataset held in memory (``deliver`` passes them) is checked through that
dataset instead of being read back: the same checks on its columns (whole numbers with numpy, texts
with a regular expression, only where a column can hold one) and on its variables' texts, plus the
texts the writer added (file labels, notes, metadata), given as ``texts``. Every other file (codebooks,
manifest, questionnaires, deletion list) is searched byte by byte as above.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from engagement.participants.person_number import passes_mod11
from engagement.problems import DomainError

if TYPE_CHECKING:
    from engagement.research.dataset import Dataset

_ELEVEN = re.compile(rb"(?<![0-9])[0-9]{11}(?![0-9])")  # for short texts; files use numpy
_ELEVEN_TEXT = r"(^|[^0-9])[0-9]{11}([^0-9]|$)"
_DATE = re.compile(
    rb"(?:19|20)[0-9]{2}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])"
    rb"|(?:0[1-9]|[12][0-9]|3[01])\.(?:0[1-9]|1[0-2])\.(?:19|20)[0-9]{2}"
)
_DATE_TEXT = (
    r"(^|[^0-9])((19|20)[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
    r"|(0[1-9]|[12][0-9]|3[01])\.(0[1-9]|1[0-2])\.(19|20)[0-9]{2})([^0-9]|$)"
)
# CSV files that describe data rather than hold it.
METADATA_CSV = frozenset({"codebook.csv", "instruments.csv", "deletion_list.csv"})
INT32_MAX = 2**31 - 1


class IdentifiersFound(DomainError):
    """The delivery was refused: it would have carried a fødselsnummer or a date."""

    status, slug, title = (
        500,
        "research-delivery-holds-identifiers",
        "The delivery was refused by the identity scan",
    )


@dataclass(frozen=True)
class Finding:
    path: str  # relative to the scanned folder
    kind: Literal["fodselsnummer", "date", "date-column"]
    where: str  # byte offset, or column and row; never the value


def find_identifiers(
    folder: Path, *, datasets: Mapping[str, Dataset] | None = None, texts: Iterable[str] = ()
) -> list[Finding]:
    """Every fødselsnummer-like number and every date in the delivery folder (see the module text);
    ``datasets`` maps data files (paths relative to ``folder``) to the dataset written in them."""
    findings: list[Finding] = []
    datasets = datasets or {}
    checked: dict[int, list[Finding]] = {}  # each dataset once, reported under each of its files
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        relative = path.relative_to(folder).as_posix()
        dataset = datasets.get(relative)
        if dataset is not None:
            if id(dataset) not in checked:
                checked[id(dataset)] = _scan_dataset(dataset)
            findings.extend(replace(f, path=relative) for f in checked[id(dataset)])
            continue
        if path.suffix == ".parquet":
            findings.extend(_scan_parquet(path, relative))
            continue
        is_data = path.suffix == ".csv" and path.name not in METADATA_CSV
        findings.extend(_scan_bytes(path, relative, dates=is_data))
    for text in texts:
        if _has_number(text):
            findings.append(Finding("(data file metadata)", "fodselsnummer", "metadata"))
    return findings


def refuse_identifiers(
    folder: Path, *, datasets: Mapping[str, Dataset] | None = None, texts: Iterable[str] = ()
) -> None:
    """Raise ``IdentifiersFound`` if ``find_identifiers`` finds anything."""
    findings = find_identifiers(folder, datasets=datasets, texts=texts)
    if findings:
        shown = "; ".join(f"{f.kind} in {f.path} at {f.where}" for f in findings[:10])
        more = f" and {len(findings) - 10} more" if len(findings) > 10 else ""
        raise IdentifiersFound(f"{len(findings)} finding(s): {shown}{more}", findings=len(findings))


def _scan_bytes(path: Path, relative: str, *, dates: bool) -> list[Finding]:
    found: list[Finding] = []
    for base, piece in _pieces(path):
        # Digits become "0" and everything else "x": plain substring searches (C speed) then find
        # every run of exactly 11 digits. Dates keep their separators in a second shape.
        shape = b"x" + piece.translate(_DIGITS) + b"x"
        for start in _occurrences(shape, b"x" + b"0" * 11 + b"x"):
            if passes_mod11(piece[start : start + 11].decode()) and not _in_checksum(piece, start):
                found.append(Finding(relative, "fodselsnummer", f"byte {base + start}"))
        if dates:
            shape = b"x" + piece.translate(_DATES) + b"x"
            for pattern in (b"x0000-00-00x", b"x00.00.0000x"):
                for start in _occurrences(shape, pattern):
                    if _DATE.fullmatch(piece, start, start + 10):
                        found.append(Finding(relative, "date", f"byte {base + start}"))
    return found


_DIGITS = bytes(0x30 if 0x30 <= b <= 0x39 else 0x78 for b in range(256))
_DATES = bytes(0x30 if 0x30 <= b <= 0x39 else b if b in b"-." else 0x78 for b in range(256))
_HEX = frozenset(b"0123456789abcdefABCDEF")
_UUID = re.compile(rb"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def _in_checksum(piece: bytes, start: int) -> bool:
    """True if the 11 digits at ``start`` are part of a hexadecimal checksum or a UUID."""
    low, high = start, start + 11
    while low > 0 and piece[low - 1] in _HEX:
        low -= 1
    while high < len(piece) and piece[high] in _HEX:
        high += 1
    if high - low >= 32 and not piece[low:high].isdigit():
        return True
    # a UUID holding the digits starts at most 25 bytes before them (in its last group)
    uuids = _UUID.finditer(piece, max(0, start - 25), start + 36)
    return any(found.start() <= start and start + 11 <= found.end() for found in uuids)


def _occurrences(haystack: bytes, needle: bytes) -> Iterator[int]:
    """Start of every (overlapping) occurrence of ``needle``, shifted back by its 1-byte lead."""
    at = haystack.find(needle)
    while at >= 0:
        yield at
        at = haystack.find(needle, at + 1)


def _pieces(path: Path, size: int = 1 << 22) -> Iterator[tuple[int, bytes]]:
    """The file in pieces that never split a run of digits, a date, a checksum or a UUID, with each
    piece's offset."""
    base = 0
    carry = b""
    with path.open("rb") as handle:
        while chunk := handle.read(size):
            buffer = carry + chunk
            cut = len(buffer) - 1 - _trailing_digits(buffer)  # the last byte outside a number or date
            yield base, buffer[: cut + 1]
            base += cut + 1
            carry = buffer[cut + 1 :]
    if carry:
        yield base, carry


def _trailing_digits(buffer: bytes) -> int:
    """How many bytes at the end could belong to a number, a date, a checksum or a UUID."""
    count = 0
    while count < len(buffer) and buffer[-1 - count] in _CARRIED:
        count += 1
    return count


_CARRIED = frozenset(b"0123456789abcdefABCDEF-.")


def _scan_parquet(path: Path, relative: str) -> list[Finding]:
    found: list[Finding] = []
    parquet = pq.ParquetFile(path)
    schema = parquet.schema_arrow
    texts = [value.decode("utf-8", "replace") for value in (schema.metadata or {}).values()]
    for field in schema:
        texts.extend(value.decode("utf-8", "replace") for value in (field.metadata or {}).values())
    for text in texts:
        for match in _ELEVEN.finditer(text.encode()):
            if passes_mod11(match.group().decode()):
                found.append(Finding(relative, "fodselsnummer", "metadata"))
    for field in schema:
        if pa.types.is_temporal(field.type):
            found.append(Finding(relative, "date-column", f"column {field.name}"))
            continue
        is_key = (field.metadata or {}).get(b"role") == b"key"
        offset = 0
        for group in range(parquet.num_row_groups):
            column = parquet.read_row_group(group, columns=[field.name]).column(0).combine_chunks()
            found.extend(_scan_column(column, field.name, offset, relative, is_key))
            offset += len(column)
    return found


def _has_number(text: str) -> bool:
    return any(passes_mod11(m.group().decode()) for m in _ELEVEN.finditer(text.encode()))


def _scan_dataset(dataset: Dataset) -> list[Finding]:
    """The checks of a data file, on the dataset written in it (the path is filled in by the caller)."""
    found: list[Finding] = []
    if _has_number(f"{dataset.name} {dataset.description}"):
        found.append(Finding("", "fodselsnummer", "metadata"))
    for variable in dataset.variables:
        if _has_number(repr(variable)):  # name, labels, question, codes, source: every text it has
            found.append(Finding("", "fodselsnummer", f"variable {variable.name}"))
    for variable, field in zip(dataset.variables, dataset.table.schema, strict=True):
        if pa.types.is_temporal(field.type):
            found.append(Finding("", "date-column", f"column {field.name}"))
            continue
        column = dataset.column(field.name)
        found.extend(_scan_column(column, field.name, 0, "", variable.role == "key"))
    return found


def _scan_column(column: pa.Array, name: str, offset: int, relative: str, is_key: bool) -> list[Finding]:
    found: list[Finding] = []
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        for row in _rows_matching(column, _ELEVEN_TEXT):
            text = column[row].as_py() or ""
            if any(passes_mod11(m.group().decode()) for m in _ELEVEN.finditer(text.encode())):
                found.append(Finding(relative, "fodselsnummer", f"column {name} row {offset + row + 1}"))
        for row in _rows_matching(column, _DATE_TEXT):
            found.append(Finding(relative, "date", f"column {name} row {offset + row + 1}"))
        return found
    if not (pa.types.is_integer(column.type) or pa.types.is_floating(column.type)):
        return found
    lowest = 10**9 if not is_key else INT32_MAX + 1
    if pa.types.is_integer(column.type) and column.type.bit_width <= 16:
        return found  # too narrow to hold 10 digits
    bounds = pc.min_max(column)
    low, high = bounds["min"].as_py(), bounds["max"].as_py()
    if low is None or (high < lowest and low > -lowest):  # all missing, or every number too small
        return found
    values = np.abs(column.cast(pa.float64()).fill_null(0).to_numpy(zero_copy_only=False))
    candidates = np.flatnonzero((values >= lowest) & (values < 10**11) & (values == np.floor(values)))
    for index in candidates:
        if passes_mod11(f"{int(values[index]):011d}"):
            found.append(Finding(relative, "fodselsnummer", f"column {name} row {offset + int(index) + 1}"))
    return found


def _rows_matching(column: pa.Array, pattern: str) -> list[int]:
    matches = pc.match_substring_regex(column, pattern).fill_null(False)
    return [int(i) for i in np.flatnonzero(matches.to_numpy(zero_copy_only=False))]
