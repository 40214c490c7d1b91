"""One table to deliver: its variables (names, labels, codes, missing codes, lineage) and its columns.

A ``Dataset`` holds its data column by column in Arrow arrays of the narrowest fitting type (Likert
items become ``int8`` with a null bitmap), so 100,000 rows x 300 items take about 30 MB. Construction
checks every limit the SPSS and Stata writers would otherwise enforce by silently truncating or by
failing half-way through a delivery: names usable in SPSS, Stata and SSB's microdata rules, variable
labels of at most 255 bytes, value labels of at most 120 bytes, integer codes, and no dates.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from engagement.problems import DomainError

VariableType = Literal["numeric", "string"]
Measure = Literal["nominal", "ordinal", "scale"]
Role = Literal["key", "version", "item", "derived"]
Code = int | float | str

MAX_NAME_CHARS = 32  # Stata; SPSS allows 64 bytes, SSB 32 characters
MAX_VARIABLE_LABEL_BYTES = 255  # SPSS truncates silently beyond this
MAX_VALUE_LABEL_BYTES = 120  # SPSS truncates silently beyond this
MAX_STATA_MISSING_CODES = 26  # .a to .z
STATA_MAX_LONG = 2_147_483_620

_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")
_DATASET_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*\Z")
# SPSS reserved words (case-insensitive) and Stata's reserved names.
_RESERVED = frozenset(
    {"all", "and", "by", "eq", "ge", "gt", "le", "lt", "ne", "not", "or", "to", "with"}
    | {"byte", "double", "float", "if", "in", "int", "long", "using", "strl", "str", "_n", "_b", "_pi"}
    | {"_all", "_coef", "_cons", "_pred", "_rc", "_se", "_skip"}
)


class InvalidDataset(DomainError):
    """A dataset that cannot be written faithfully in every delivery format."""

    status, slug, title = 422, "invalid-research-dataset", "The dataset cannot be delivered as described"


def check_name(name: str) -> str | None:
    """Why ``name`` is not a valid variable name in SPSS, Stata and SSB's rules, or None if it is."""
    if not _NAME.match(name):
        return (
            f"variable name {name!r} must start with a letter and hold only A-Z, a-z, 0-9 and _ "
            "(no æøå, spaces or other signs)"
        )
    if len(name) > MAX_NAME_CHARS:
        return f"variable name {name!r} has {len(name)} characters; Stata allows at most {MAX_NAME_CHARS}"
    if name.lower() in _RESERVED:
        return f"variable name {name!r} is a reserved word in SPSS or Stata"
    return None


@dataclass(frozen=True)
class Scale:
    """Membership of a scored instrument (phenotools: measure, subscale, reversed items)."""

    instrument: str
    subscale: str = ""
    reversed: bool = False
    scoring: str = ""  # how the instrument is scored, e.g. "sum" or "mean" of the item scores
    reference: str = ""  # where the scoring is published


@dataclass(frozen=True)
class Variable:
    """One exported variable: what it is called, what it means, which codes it takes, where it came from.

    ``missing_codes`` are user-missing reason codes (for example -1 IKKE BESVART, -2 IKKE AKTUELT);
    label them in ``value_labels``. In Stata they become ``.a``, ``.b``, ... in the order given here.
    """

    name: str
    label: str = ""
    type: VariableType = "numeric"
    measure: Measure = "nominal"
    value_labels: Mapping[Code, str] = field(default_factory=dict)
    missing_codes: tuple[Code, ...] = ()
    question: str = ""  # full question text (the codebook's qstnLit)
    wording: Mapping[str, str] = field(default_factory=dict)  # version -> question, where versions differ
    source: str = ""  # lineage: item link ids and questionnaire versions it was harmonised from
    versions: tuple[str, ...] = ()  # questionnaire versions that asked it
    condition: str = ""  # filter, e.g. "XA25 = 2 (JEG BOR SAMMEN MED NOEN)"
    section: str = ""
    role: Role = "item"
    scale: Scale | None = None
    decimals: int | None = None  # SPSS display decimals; None: 0 for integer columns, 2 otherwise

    def valid_codes(self) -> list[Code]:
        """Labelled codes that are real answers (not user-missing), in code order."""
        missing = set(self.missing_codes)
        return sorted((code for code in self.value_labels if code not in missing), key=_code_key)

    def stata_missing(self) -> dict[Code, str]:
        """User-missing code -> Stata extended missing letter (``.a`` is the first code given)."""
        return {code: chr(ord("a") + i) for i, code in enumerate(self.missing_codes)}

    def spss_missing(self, present: Sequence[Code] = ()) -> list[Any] | None:
        """The user-missing declaration SPSS can hold for ``missing_codes``: up to three codes, or one
        range and at most one code outside it, the range holding no real code (``present``: real
        values found in the data, besides the labelled ones); None when no declaration covers them."""
        codes = list(self.missing_codes)
        if len(codes) <= 3:
            return codes
        real = sorted({float(c) for c in [*self.valid_codes(), *present]} - {float(c) for c in codes})
        for alone in [None, *sorted(codes, key=_code_key)]:
            ranged = [float(c) for c in codes if c != alone]
            low, high = min(ranged), max(ranged)
            if not any(low <= value <= high for value in real):
                declared: list[Any] = [{"lo": _whole(low), "hi": _whole(high)}]
                return declared if alone is None else [*declared, alone]
        return None

    def problems(self) -> list[str]:
        """Every reason this variable cannot be written faithfully (empty when it can)."""
        found: list[str] = []
        bad_name = check_name(self.name)
        if bad_name:
            found.append(bad_name)
        size = len(self.label.encode("utf-8"))
        if size > MAX_VARIABLE_LABEL_BYTES:
            found.append(
                f"{self.name}: variable label is {size} bytes; SPSS keeps {MAX_VARIABLE_LABEL_BYTES} "
                "(shorten it with truncate_utf8 and keep the full text in 'question')"
            )
        for code, text in self.value_labels.items():
            size = len(text.encode("utf-8"))
            if size > MAX_VALUE_LABEL_BYTES:
                found.append(
                    f"{self.name}: value label for {code!r} is {size} bytes; SPSS keeps {MAX_VALUE_LABEL_BYTES}"
                )
        codes = [*self.value_labels, *self.missing_codes]
        if self.type == "string":
            if self.value_labels:
                found.append(
                    f"{self.name}: a string variable cannot carry value labels (Stata labels integers)"
                )
            if self.missing_codes:
                found.append(
                    f"{self.name}: a string variable cannot have user-missing codes (Stata has none)"
                )
        else:
            for code in codes:
                if isinstance(code, bool) or not isinstance(code, int | float) or float(code) != int(code):
                    found.append(f"{self.name}: code {code!r} is not an integer (Stata labels integers only)")
        if len(set(self.missing_codes)) != len(self.missing_codes):
            found.append(f"{self.name}: user-missing codes repeat")
        if len(self.missing_codes) > MAX_STATA_MISSING_CODES:
            found.append(
                f"{self.name}: at most {MAX_STATA_MISSING_CODES} user-missing codes (Stata .a to .z)"
            )
        if len(self.missing_codes) > 3 and not found and self.spss_missing(self.valid_codes()) is None:
            found.append(
                f"{self.name}: SPSS takes more than 3 user-missing codes only as one range and one "
                f"code, and every such range of {list(self.missing_codes)} would also hide a real code "
                f"{self.valid_codes()}"
            )
        return found


def _whole(number: float) -> int | float:
    return int(number) if number.is_integer() else number


def _code_key(code: Code) -> tuple[int, float | str]:
    return (1, code) if isinstance(code, str) else (0, float(code))


def _as_array(values: Any, variable: Variable) -> pa.Array:
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if isinstance(values, np.ndarray) and values.dtype.kind in "fiu" and variable.type != "string":
        return _narrowest_numpy(values)  # the same result as below, in a few numpy passes
    if isinstance(values, np.ndarray):
        array = pa.array(values, from_pandas=True)  # NaN in float input means missing
    elif isinstance(values, pa.Array):
        array = values
    else:
        array = pa.array(list(values), from_pandas=True)
    kind = array.type
    if pa.types.is_temporal(kind):
        raise InvalidDataset(f"{variable.name}: dates and times are never delivered; deliver ages instead")
    if variable.type == "string":
        if pa.types.is_null(kind):
            return pa.nulls(len(array), pa.string())
        if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
            raise InvalidDataset(f"{variable.name}: a string variable needs text values, got {kind}")
        return array.cast(pa.string())
    if pa.types.is_null(kind):
        return pa.nulls(len(array), pa.int8())
    if pa.types.is_boolean(kind):
        return array.cast(pa.int8())
    if not (pa.types.is_integer(kind) or pa.types.is_floating(kind)):
        raise InvalidDataset(f"{variable.name}: a numeric variable needs numbers, got {kind}")
    return _narrowest(array)


_FINITE_ONLY = "numeric values must be finite (NaN counts as missing, infinity is refused)"


def _narrowest(array: pa.Array) -> pa.Array:
    """The same numbers in the narrowest integer type that holds them, or float64 if any has a fraction
    (Arrow input: its nulls are the missing values, and a NaN that is not null is refused)."""
    if pa.types.is_floating(array.type) and pc.any(pc.is_nan(array)).as_py():
        raise InvalidDataset(_FINITE_ONLY)
    missing = array.is_null().to_numpy(zero_copy_only=False) if array.null_count else None
    if missing is not None:
        array = array.fill_null(0)
    return _narrowest_numpy(array.to_numpy(zero_copy_only=False), missing)


def _narrowest_numpy(values: np.ndarray, missing: np.ndarray | None = None) -> pa.Array:
    """``_narrowest`` for a numpy column of numbers (NaN, or ``missing`` where given, is missing)."""
    if values.dtype.kind == "f":
        nan = np.isnan(values)
        missing = nan if missing is None else missing | nan
    if missing is not None and not missing.any():
        missing = None
    present = values if missing is None else values[~missing]
    if values.dtype.kind == "f":
        if not np.isfinite(present).all():
            raise InvalidDataset(_FINITE_ONLY)
        if not np.array_equal(present, np.floor(present)):
            return pa.array(values.astype(np.float64, copy=False), mask=missing)
    if not present.size:
        return pa.nulls(len(values), pa.int8())
    kind = _integer_type(present.min().item(), present.max().item())
    filled = values if missing is None else np.where(missing, 0, values)
    return pa.array(filled.astype(kind.to_pandas_dtype(), copy=False), type=kind, mask=missing)


def _integer_type(low: float, high: float) -> pa.DataType:
    """The narrowest type for whole numbers from ``low`` to ``high``: an integer type Stata and SPSS
    both hold, else float64 (exact below 2**53)."""
    for kind, info in ((pa.int8(), np.iinfo(np.int8)), (pa.int16(), np.iinfo(np.int16))):
        if info.min <= low and high <= info.max:
            return kind
    # Stata's long ends at 2,147,483,620 (the codes above are its missing values); beyond, exact doubles.
    if np.iinfo(np.int32).min < low and high <= STATA_MAX_LONG:
        return pa.int32()
    if abs(low) > 2**53 or abs(high) > 2**53:
        raise InvalidDataset("integers beyond 2**53 cannot be stored exactly in SPSS or Stata")
    return pa.float64()


class Dataset:
    """A named table (one per questionnaire version, or harmonised across versions) ready to deliver.

    ``columns`` maps each variable name to its values (a list, a numpy array or an Arrow array; None or
    NaN is system missing). ``primary_key`` names the key variables (the pseudonym, and e.g. BARN_NR).
    ``version_column`` names the variable that holds each row's questionnaire version, if any.
    """

    def __init__(
        self,
        name: str,
        variables: Sequence[Variable],
        columns: Mapping[str, Any],
        *,
        primary_key: Sequence[str] = (),
        version_column: str | None = None,
        description: str = "",
    ) -> None:
        problems: list[str] = []
        if not _DATASET_NAME.match(name):
            problems.append(f"dataset name {name!r} may hold only A-Z, a-z, 0-9, _, . and -")
        names = [v.name for v in variables]
        seen: set[str] = set()
        for variable in variables:
            folded = variable.name.lower()
            if folded in seen:
                problems.append(
                    f"variable {variable.name!r} appears twice (names are compared ignoring case)"
                )
            seen.add(folded)
            problems.extend(variable.problems())
        missing = [n for n in names if n not in columns]
        extra = [n for n in columns if n not in set(names)]
        if missing:
            problems.append(f"no values given for {', '.join(missing)}")
        if extra:
            problems.append(f"values given for undeclared variables {', '.join(extra)}")
        for key in primary_key:
            if key not in names:
                problems.append(f"primary key {key!r} is not a variable")
        if version_column is not None and version_column not in names:
            problems.append(f"version column {version_column!r} is not a variable")
        if problems:
            raise InvalidDataset("; ".join(problems), problems=problems)

        arrays = [_as_array(columns[v.name], v) for v in variables]
        lengths = {len(a) for a in arrays}
        if len(lengths) > 1:
            counts = ", ".join(f"{v.name}={len(a)}" for v, a in zip(variables, arrays, strict=True))
            raise InvalidDataset(f"columns differ in length: {counts}")
        self.name = name
        self.variables: tuple[Variable, ...] = tuple(variables)
        self.table: pa.Table = pa.Table.from_arrays(arrays, names=names)
        self.primary_key: tuple[str, ...] = tuple(primary_key)
        self.version_column = version_column
        self.description = description
        if self.primary_key and self.num_rows:
            self._check_unique_key()

    def _check_unique_key(self) -> None:
        keys = self.table.select(list(self.primary_key))
        for column in keys.columns:
            if column.null_count:
                raise InvalidDataset(f"{self.name}: a primary key value is missing")
        distinct = keys.group_by(list(self.primary_key)).aggregate([]).num_rows
        if distinct != self.num_rows:
            raise InvalidDataset(f"{self.name}: the primary key {', '.join(self.primary_key)} repeats")

    @property
    def num_rows(self) -> int:
        return int(self.table.num_rows)

    def variable(self, name: str) -> Variable:
        for variable in self.variables:
            if variable.name == name:
                return variable
        raise KeyError(name)

    def column(self, name: str) -> pa.Array:
        return self.table.column(name).combine_chunks()

    def rows_per_version(self) -> dict[str, int]:
        """Row count per questionnaire version (one entry under the dataset's name without a version column)."""
        if self.version_column is None:
            return {self.name: self.num_rows}
        counts = pc.value_counts(self.column(self.version_column))
        return {str(item["values"]): int(item["counts"]) for item in counts.to_pylist()}
