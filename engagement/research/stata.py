"""Stata ``.dta`` (format 118, Stata 14 and later) written from a ``Dataset``, each variable in the
narrowest storage type its values allow.

Why a writer of our own: pyreadstat 1.3.8 stores every integer column (and booleans) as a 4-byte
``long`` (its writer maps them all to ReadStat's INT32), so a 0/1 or Likert item takes four bytes and
shows as ``long`` in Stata; pandas' ``to_stata`` narrows, but cannot write Stata's extended missing
values ``.a`` to ``.z`` (it widens a ``byte`` column holding the codes 101..127 that stand for them).
No library here does both, so this module writes the file itself, as Stata's documentation of the
format describes it ("dta file format 118", ``help dta`` in Stata):

- the file is a sequence of tagged sections, numbers little-endian (``LSF``):
  ``<stata_dta><header>`` (release, byte order, K variables as uint16, N observations as uint64, the
  file label with a uint16 byte length, the time stamp with a uint8 length) ``</header>``, ``<map>``
  (14 uint64 file offsets: of ``<stata_dta>``, ``<map>``, each section below, ``</stata_dta>`` and the
  end of the file), ``<variable_types>`` (uint16 each), ``<varnames>`` (129 bytes each),
  ``<sortlist>`` (K + 1 uint16), ``<formats>`` (57 bytes each), ``<value_label_names>`` (129 bytes
  each), ``<variable_labels>`` (321 bytes each), ``<characteristics>``, ``<data>`` (N rows of fixed
  width), ``<strls>`` (the texts of ``strL`` cells), ``<value_labels>``, ``</stata_dta>``; texts are
  UTF-8, null-terminated and null-padded in their fixed fields;
- storage types (code in ``<variable_types>``: range of real values; system missing ``.``; ``.a`` to
  ``.z`` follow ``.`` one by one): ``byte`` (65530: -127..100; ``.`` = 101), ``int`` (65529:
  -32767..32740; ``.`` = 32741), ``long`` (65528: -2147483647..2147483620; ``.`` = 2147483621),
  ``double`` (65526; ``.`` = 2**1023, bytes ``00 00 00 00 00 00 e0 7f``; ``.a`` = ``.`` + 2**1011,
  and so on), ``str1`` to ``str2045`` (the type code is the width in bytes) and ``strL`` (32768: each
  cell 8 bytes, the variable's number in its 2 low bytes and the observation's in the 6 high ones,
  pointing at a "GSO" entry in ``<strls>``; 0 is the empty text);
- a value label set (``<lbl>``): its table's length (int32), its name (129 bytes), 3 bytes of
  padding, then n (int32), the texts' total length (int32), n offsets into the texts, n values (all
  int32) and the null-terminated texts. Labels of extended missing values are keyed by their ``long``
  encoding (``.a`` = 2147483622), as Stata keeps them.

The storage type of a numeric variable is chosen from its real values alone: the user-missing codes,
which become ``.a``, ``.b``, ..., and system missing do not widen it. The data section is written from
a numpy structured array, one field per variable, in blocks of rows.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from engagement import clock
from engagement.questionnaires.definition import TRUNCATION_SUFFIX
from engagement.research.dataset import Dataset, InvalidDataset, Variable

RELEASE = 118
MAX_LABEL_CHARS = 80  # variable labels and the file label
MAX_VARIABLES = 32_767  # format 118 counts them in 2 bytes (Stata/MP's wider files are format 119)
MAX_STR_BYTES = 2045  # wider texts are strL
ROWS_PER_BLOCK = 1 << 16  # rows of the data section assembled at once

BYTE, INT, LONG, DOUBLE, STRL = 65530, 65529, 65528, 65526, 32768
NAME_BYTES, FORMAT_BYTES, LABEL_BYTES = 129, 57, 321
GSO_TEXT = 130  # a strL's contents: text, null-terminated


@dataclass(frozen=True)
class IntegerType:
    """One of Stata's integer storage types: the real values it holds, and its system missing ``.``
    (``.a`` to ``.z`` are the 26 values above it)."""

    code: int
    dtype: np.dtype[Any]
    low: int
    high: int
    display: str

    @property
    def missing(self) -> int:
        return self.high + 1


INTEGER_TYPES = (
    IntegerType(BYTE, np.dtype("<i1"), -127, 100, "%8.0g"),
    IntegerType(INT, np.dtype("<i2"), -32_767, 32_740, "%8.0g"),
    IntegerType(LONG, np.dtype("<i4"), -2_147_483_647, 2_147_483_620, "%12.0g"),
)
LONG_TYPE = INTEGER_TYPES[-1]
DOUBLE_DTYPE = np.dtype("<f8")
# ``.``, ``.a``, ..., ``.z`` as doubles: 2**1023 and then a step of 2**1011 each (in the bits: the
# exponent 0x7fe, and the letter's number in the 12 high bits of the mantissa).
DOUBLE_MISSING = (np.uint64(0x7FE0_0000_0000_0000) + (np.arange(27, dtype=np.uint64) << np.uint64(40))).view(
    DOUBLE_DTYPE
)
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
SECTIONS = (  # the offsets in <map>, in order
    "stata_dta",
    "map",
    "variable_types",
    "varnames",
    "sortlist",
    "formats",
    "value_label_names",
    "variable_labels",
    "characteristics",
    "data",
    "strls",
    "value_labels",
    "/stata_dta",
    "end",
)


@dataclass(frozen=True)
class Stored:
    """One variable as the file stores it: its type code, display format and cells (numpy, in the
    field's dtype), and for a strL its GSO entries."""

    type: int
    display: str
    cells: np.ndarray
    strls: bytes = b""


def stata_label(text: str) -> str:
    """A variable label as Stata keeps it: at most 80 characters, the cut marked with ``.....``."""
    if len(text) <= MAX_LABEL_CHARS:
        return text
    return text[: MAX_LABEL_CHARS - len(TRUNCATION_SUFFIX)] + TRUNCATION_SUFFIX


def write_dta(
    dataset: Dataset, path: Path, *, file_label: str = "", timestamp: datetime | None = None
) -> None:
    """The dataset as a Stata 118 ``.dta``: narrowest storage types, variable labels cut to 80
    characters, value labels, user-missing codes as ``.a``, ``.b``, ... with their labels, system
    missing as ``.``; ``timestamp`` (aware) is the time Stata shows as the file's, in Norwegian time
    (default: now)."""
    if len(dataset.variables) > MAX_VARIABLES:
        raise InvalidDataset(f"{dataset.name}: Stata 118 holds at most {MAX_VARIABLES} variables")
    stored = [
        _stored(variable, dataset.column(variable.name), number)
        for number, variable in enumerate(dataset.variables, start=1)
    ]
    labelled = [v for v in dataset.variables if v.value_labels]
    offsets: dict[str, int] = {}
    with path.open("wb") as handle:

        def section(name: str, content: bytes) -> None:
            offsets[name] = handle.tell()
            handle.write(_tag(name, content))

        offsets["stata_dta"] = handle.tell()
        handle.write(b"<stata_dta>")
        handle.write(_header(dataset.num_rows, len(stored), stata_label(file_label), timestamp))
        offsets["map"] = handle.tell()
        handle.write(_tag("map", bytes(8 * len(SECTIONS))))  # filled in at the end
        section("variable_types", _uint16([s.type for s in stored]))
        section("varnames", b"".join(_fixed(v.name, NAME_BYTES) for v in dataset.variables))
        section("sortlist", bytes(2 * (len(stored) + 1)))
        section("formats", b"".join(_fixed(s.display, FORMAT_BYTES) for s in stored))
        section(
            "value_label_names",
            b"".join(_fixed(v.name if v.value_labels else "", NAME_BYTES) for v in dataset.variables),
        )
        section(
            "variable_labels",
            b"".join(_fixed(stata_label(v.label), LABEL_BYTES) for v in dataset.variables),
        )
        section("characteristics", b"")
        offsets["data"] = handle.tell()
        handle.write(b"<data>")
        _write_rows(handle, [s.cells for s in stored], dataset.num_rows)
        handle.write(b"</data>")
        section("strls", b"".join(s.strls for s in stored))
        section("value_labels", b"".join(_tag("lbl", _label_set(v)) for v in labelled))
        offsets["/stata_dta"] = handle.tell()
        handle.write(b"</stata_dta>")
        offsets["end"] = handle.tell()
        handle.seek(offsets["map"])
        handle.write(_tag("map", struct.pack(f"<{len(SECTIONS)}Q", *(offsets[s] for s in SECTIONS))))


def _header(rows: int, variables: int, label: str, timestamp: datetime | None) -> bytes:
    """``<header>``: release, byte order, K, N, the file label and the time stamp (``dd Mon yyyy hh:mm``)."""
    when = (timestamp or clock.now()).astimezone(clock.OSLO)
    stamp = f"{when:%d} {MONTHS[when.month - 1]} {when:%Y %H:%M}".encode("ascii")
    text = label.encode("utf-8")
    return _tag(
        "header",
        _tag("release", str(RELEASE).encode("ascii"))
        + _tag("byteorder", b"LSF")
        + _tag("K", struct.pack("<H", variables))
        + _tag("N", struct.pack("<Q", rows))
        + _tag("label", struct.pack("<H", len(text)) + text)
        + _tag("timestamp", struct.pack("<B", len(stamp)) + stamp),
    )


def _stored(variable: Variable, column: pa.Array, number: int) -> Stored:
    if variable.type == "string":
        return _text(column, number)
    return _numbers(variable, column)


def _numbers(variable: Variable, column: pa.Array) -> Stored:
    """A numeric column in the narrowest type holding its real values (those neither null nor a
    user-missing code), nulls as ``.`` and the user-missing codes as ``.a``, ``.b``, ..."""
    values = column.fill_null(0).to_numpy(zero_copy_only=False) if column.null_count else column.to_numpy()
    nulls = column.is_null().to_numpy(zero_copy_only=False) if column.null_count else None
    coded = [_equal(values, code) for code in variable.missing_codes]
    real = np.ones(len(values), dtype=bool) if nulls is None else ~nulls
    for mask in coded:
        real &= ~mask
    if values.dtype.kind == "f":
        kind: IntegerType | None = None
    elif not real.any():
        kind = INTEGER_TYPES[0]
    else:
        low = int(values.min(where=real, initial=np.iinfo(values.dtype).max))
        high = int(values.max(where=real, initial=np.iinfo(values.dtype).min))
        kind = next((k for k in INTEGER_TYPES if k.low <= low and high <= k.high), None)
    if kind is None:
        cells = values.astype(DOUBLE_DTYPE)
        missing = DOUBLE_MISSING
        display, code = "%10.0g", DOUBLE
    else:
        cells = values.astype(kind.dtype)
        missing = np.arange(kind.missing, kind.missing + 27).astype(kind.dtype)
        display, code = kind.display, kind.code
    if nulls is not None:
        cells[nulls] = missing[0]
    for letter, mask in enumerate(coded, start=1):
        cells[mask] = missing[letter]
    return Stored(code, display, cells)


def _equal(values: np.ndarray, code: int | float | str) -> np.ndarray:
    """Where ``values`` hold ``code`` (never, where their integer type cannot hold it)."""
    number = float(code)
    if values.dtype.kind in "iu":
        bounds = np.iinfo(values.dtype)
        if not bounds.min <= number <= bounds.max:
            return np.zeros(len(values), dtype=bool)
        found: np.ndarray = values == int(number)
    else:
        found = values == number
    return found


def _text(column: pa.Array, number: int) -> Stored:
    """A text column as ``str#`` of its widest UTF-8 value (at least 1 byte), or as ``strL`` when
    that is wider than 2045 bytes; null is the empty text (Stata has no missing text)."""
    data = column.cast(pa.binary()).fill_null(b"")
    widest = pc.max(pc.binary_length(data)).as_py() or 0
    if widest <= MAX_STR_BYTES:
        width = max(widest, 1)
        return Stored(width, f"%-{width}s", data.to_numpy(zero_copy_only=False).astype(f"S{width}"))
    # strL: one GSO entry per non-empty cell, found by (variable, observation), both counted from 1.
    filled = pc.greater(pc.binary_length(data), 0).to_numpy(zero_copy_only=False)
    rows = np.flatnonzero(filled) + 1
    cells = np.zeros(len(data), dtype="<u8")
    cells[filled] = np.uint64(number) | (rows.astype(np.uint64) << np.uint64(16))
    texts = data.filter(pa.array(filled)).to_pylist()
    entries = b"".join(
        b"GSO" + struct.pack("<IQBI", number, row, GSO_TEXT, len(text) + 1) + text + b"\0"
        for row, text in zip(rows.tolist(), texts, strict=True)
    )
    return Stored(STRL, "%9s", cells, entries)


def _write_rows(handle: BinaryIO, columns: Sequence[np.ndarray], rows: int) -> None:
    """The data section: each row the variables' cells side by side, written a block of rows at a time."""
    record = np.dtype([(f"v{i}", cells.dtype) for i, cells in enumerate(columns)])
    for start in range(0, rows, ROWS_PER_BLOCK):
        stop = min(start + ROWS_PER_BLOCK, rows)
        block = np.empty(stop - start, dtype=record)
        for i, cells in enumerate(columns):
            block[f"v{i}"] = cells[start:stop]
        handle.write(block.data)


def _label_set(variable: Variable) -> bytes:
    """The variable's value label set (named like the variable): real codes as themselves, user-missing
    codes under the ``long`` encoding of their letter."""
    letters = {code: number for number, code in enumerate(variable.missing_codes, start=1)}
    entries: dict[int, bytes] = {}
    for code, text in variable.value_labels.items():
        if code in letters:
            value = LONG_TYPE.missing + letters[code]
        else:
            value = int(code)
            if not LONG_TYPE.low <= value <= LONG_TYPE.high:
                raise InvalidDataset(f"{variable.name}: Stata cannot label the code {code}")
        entries[value] = text.encode("utf-8") + b"\0"
    values = sorted(entries)
    texts = [entries[v] for v in values]
    lengths = np.array([len(t) for t in texts], dtype="<i4")
    starts = np.cumsum(lengths, dtype="<i4") - lengths
    table: bytes = (
        struct.pack("<ii", len(values), sum(len(t) for t in texts))
        + starts.tobytes()
        + np.array(values, dtype="<i4").tobytes()
        + b"".join(texts)
    )
    return struct.pack("<i", len(table)) + _fixed(variable.name, NAME_BYTES) + bytes(3) + table


def _tag(name: str, content: bytes) -> bytes:
    return f"<{name}>".encode("ascii") + content + f"</{name}>".encode("ascii")


def _fixed(text: str, size: int) -> bytes:
    """``text`` in UTF-8, null-terminated and padded with nulls to ``size`` bytes."""
    encoded = text.encode("utf-8")
    if len(encoded) >= size:
        raise InvalidDataset(f"{text!r} takes {len(encoded)} bytes; Stata keeps {size - 1}")
    return encoded + bytes(size - len(encoded))


def _uint16(values: Sequence[int]) -> bytes:
    packed: bytes = np.array(values, dtype="<u2").tobytes()
    return packed
