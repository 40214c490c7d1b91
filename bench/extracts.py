"""Benchmark: a full research delivery against pyreadstat and pyarrow writing the same table from memory.

Builds a 100,000-row x 300-item questionnaire table (Likert items with user-missing reason codes and
system missing, tick boxes, integers with a "don't know" code; labels on every item) and times, each
step in a fresh child process whose peak RSS is read with ``resource.getrusage``:

- baseline: the same table already in memory as a polars frame (and, for Stata, with its extended
  missing letters already in place) written by ``pyreadstat.write_sav`` (row-compressed),
  ``pyreadstat.write_dta``, ``pyarrow.parquet.write_table`` (zstd) and ``pyarrow.csv.write_csv``;
- delivery: ``engagement.research.writers.deliver`` writing the whole release folder (the same four
  data files plus codebooks, datapackage, manifest, the identity scan, checksums and the rename).

Prints both times, the ratio (target <= 1.5) and each step's peak memory (target <= 1 GB).

    .venv/bin/python bench/extracts.py [--rows 100000] [--items 300] [--profile extended|moba]
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import shutil
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

LIKERT = {1: "SVÆRT GOD", 2: "GOD", 3: "VERKEN GOD ELLER DÅRLIG", 4: "DÅRLIG", 5: "SVÆRT DÅRLIG"}
REASONS = {-1: "IKKE BESVART", -2: "IKKE AKTUELT"}
TICK = {0: "IKKE KRYSSET", 1: "KRYSSET"}


def build(rows: int, items: int, profile: str) -> tuple[list[Any], dict[str, Any]]:
    """Variables and columns of the benchmark table (deterministic)."""
    from engagement.research.dataset import Variable
    from engagement.research.pseudonyms import allocate_pseudonyms

    extended = profile == "extended"
    rng = np.random.default_rng(2026)
    variables: list[Any] = [
        Variable("UNG_ID_PDB9999", "Prosjektspesifikt løpenummer", role="key"),
        Variable("VERSJON_UNG18_TBL1", "Skjemaversjon", type="string", role="version"),
        Variable("AGE_YRS_XA", "Alder i år ved utfylling", measure="scale", role="derived"),
    ]
    columns: dict[str, Any] = {
        "UNG_ID_PDB9999": np.array(allocate_pseudonyms(rows), dtype=np.int32),
        "VERSJON_UNG18_TBL1": np.where(rng.random(rows) < 0.7, "UNG18_A", "UNG18_B").astype(object),
        "AGE_YRS_XA": rng.integers(18, 23, rows).astype(np.int8),
    }
    for index in range(items):
        name = f"XA{100 + index}"
        draw = rng.random(rows)
        kind = index % 10
        if kind < 8:  # Likert 1-5
            values = rng.integers(1, 6, rows).astype(np.float64)
            labels: dict[int, str] = dict(LIKERT)
            measure = "ordinal"
        elif kind == 8:  # tick box of a multiple choice: 1 ticked, 0 shown but not ticked
            values = (draw < 0.3).astype(np.float64)
            labels = dict(TICK)
            measure = "nominal"
        else:  # an integer with a "don't know" code
            values = rng.integers(100, 231, rows).astype(np.float64)
            labels = {}
            measure = "scale"
        missing: tuple[int, ...] = ()
        if extended and kind != 8:
            values[draw < 0.03] = -1
            values[(draw >= 0.03) & (draw < 0.05)] = -2
            labels.update(REASONS)
            missing = (-1, -2)
        values[draw > 0.97] = np.nan  # not shown: system missing
        question = f"{index + 1}. Spørsmål {index + 1} i MoBa 18 år"
        variables.append(
            Variable(
                name,
                f"{name}:UNG18_A; {question}",
                measure=measure,
                value_labels=labels,
                missing_codes=missing,
                question=question,
                versions=("UNG18_A", "UNG18_B"),
            )
        )
        columns[name] = values
    return variables, columns


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_baseline(rows: int, items: int, profile: str, out: str) -> dict[str, float]:
    import polars as pl
    import pyarrow.csv as pa_csv
    import pyarrow.parquet as pq
    import pyreadstat

    from engagement.research.dataset import Dataset
    from engagement.research.writers import _stata_column

    variables, columns = build(rows, items, profile)
    table = Dataset("UNG18_v1", variables, columns).table  # the same Arrow table, untimed
    frame = pl.from_arrow(table)
    labels = {v.name: {int(k): t for k, t in v.value_labels.items()} for v in variables if v.value_labels}
    missing = {v.name: list(v.missing_codes) for v in variables if v.missing_codes}
    column_labels = {v.name: v.label for v in variables}
    stata_labels = {}
    replaced = []
    for variable in variables:  # Stata's extended missing letters, prepared untimed
        stata = _stata_column(variable, table.column(variable.name).combine_chunks())
        letters = variable.stata_missing()
        if variable.value_labels:
            stata_labels[variable.name] = {letters.get(k, k): t for k, t in variable.value_labels.items()}
        if stata is not None:
            replaced.append(stata)
    stata_frame = frame.with_columns(replaced) if replaced else frame
    stata_missing = {v.name: list(v.stata_missing().values()) for v in variables if v.missing_codes}
    folder = Path(out)
    times = {}
    start = time.perf_counter()
    pyreadstat.write_sav(
        frame,
        str(folder / "b.sav"),
        column_labels=column_labels,
        variable_value_labels=labels,
        missing_ranges=missing,
        row_compress=True,
    )
    times["sav"] = time.perf_counter() - start
    mark = time.perf_counter()
    pyreadstat.write_dta(
        stata_frame,
        str(folder / "b.dta"),
        column_labels=column_labels,
        version=14,
        variable_value_labels=stata_labels,
        missing_user_values=stata_missing or None,
    )
    times["dta"] = time.perf_counter() - mark
    mark = time.perf_counter()
    pq.write_table(table, folder / "b.parquet", compression="zstd")
    times["parquet"] = time.perf_counter() - mark
    mark = time.perf_counter()
    pa_csv.write_csv(table, folder / "b.csv")
    times["csv"] = time.perf_counter() - mark
    times["total"] = time.perf_counter() - start
    times["peak_mb"] = _peak_mb()
    return times


def run_delivery(rows: int, items: int, profile: str, out: str) -> dict[str, float]:
    from engagement.research.dataset import Dataset
    from engagement.research.writers import DeliveryInfo, deliver

    variables, columns = build(rows, items, profile)
    start = time.perf_counter()
    dataset = Dataset(
        "UNG18_v1", variables, columns, primary_key=["UNG_ID_PDB9999"], version_column="VERSJON_UNG18_TBL1"
    )
    built = time.perf_counter() - start
    del columns
    info = DeliveryInfo("PDB9999", "R2026-01", datetime.now(UTC), ("DUO:0000006", "DUO:0000027"))
    mark = time.perf_counter()
    delivery = deliver(out, [dataset], info)
    delivered = time.perf_counter() - mark
    size = sum(f.bytes for f in delivery.files)
    return {"dataset": built, "total": delivered, "peak_mb": _peak_mb(), "bytes": size}


def in_child(function: Any, *args: Any) -> dict[str, float]:
    context = multiprocessing.get_context("spawn")
    with context.Pool(1) as pool:
        return pool.apply(function, args)  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--items", type=int, default=300)
    parser.add_argument(
        "--profile",
        choices=("extended", "moba"),
        default="extended",
        help="extended: -1/-2 reason codes as user-missing; moba: system missing only",
    )
    parser.add_argument("--repeat", type=int, default=3, help="interleaved runs; the fastest of each counts")
    args = parser.parse_args()
    baselines, deliveries = [], []
    for _ in range(args.repeat):
        scratch = Path(tempfile.mkdtemp(prefix="bench-extracts-"))
        try:
            (scratch / "baseline").mkdir()
            baselines.append(
                in_child(run_baseline, args.rows, args.items, args.profile, str(scratch / "baseline"))
            )
            deliveries.append(
                in_child(run_delivery, args.rows, args.items, args.profile, str(scratch / "store"))
            )
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    baseline = min(baselines, key=lambda run: run["total"])
    delivery = min(deliveries, key=lambda run: run["total"])
    delivery["peak_mb"] = max(run["peak_mb"] for run in deliveries)
    baseline["peak_mb"] = max(run["peak_mb"] for run in baselines)
    print(
        "runs (baseline / delivery, s): "
        + "; ".join(
            f"{b['total']:.1f} / {d['total']:.1f}" for b, d in zip(baselines, deliveries, strict=True)
        )
    )
    print(
        f"table: {args.rows} rows x {args.items} items (+3 id/version/age), profile {args.profile}; "
        f"fastest of {args.repeat}"
    )
    print(
        "baseline (pyreadstat + pyarrow from memory): "
        + ", ".join(f"{k} {baseline[k]:.2f} s" for k in ("sav", "dta", "parquet", "csv"))
        + f"; total {baseline['total']:.2f} s; peak {baseline['peak_mb']:.0f} MB"
    )
    print(
        f"delivery (deliver(), whole release folder): {delivery['total']:.2f} s "
        f"(+ {delivery['dataset']:.2f} s building the Dataset); peak {delivery['peak_mb']:.0f} MB; "
        f"{delivery['bytes'] / 1e6:.1f} MB written"
    )
    ratio = delivery["total"] / baseline["total"]
    print(f"time ratio delivery/baseline: {ratio:.2f} (target <= 1.5)")
    print(f"peak memory of the delivery process: {delivery['peak_mb']:.0f} MB (target <= 1024 MB)")


if __name__ == "__main__":
    main()
