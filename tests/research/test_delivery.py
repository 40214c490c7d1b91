"""A delivery lands whole or not at all, and never over an earlier release."""

from __future__ import annotations

import resource
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path

import pyreadstat
import pytest

from engagement.research.delivery import InvalidDelivery, ReleaseExists, deliver, verify_checksums
from engagement.research.scan import IdentifiersFound
from tests.identities import synthetic_fnr

from .helpers import COLUMNS, KEY, info, ung18


def leftovers(store: Path) -> list[str]:
    return sorted(p.relative_to(store).as_posix() for p in store.rglob("*"))


def test_an_existing_release_is_never_overwritten(tmp_path: Path) -> None:
    first = deliver(tmp_path, [ung18()], info())
    before = {p.name: p.stat().st_mtime_ns for p in first.path.iterdir()}
    with pytest.raises(ReleaseExists, match="never overwritten"):
        deliver(tmp_path, [ung18()], info(), formats=["csv"])
    assert {p.name: p.stat().st_mtime_ns for p in first.path.iterdir()} == before
    assert verify_checksums(first.path) == []
    second = deliver(tmp_path, [ung18()], info("R2026-02", kind="since-last", previous_release="R2026-01"))
    assert second.manifest["previous_release"] == "R2026-01"
    assert sorted(p.name for p in (tmp_path / "PDB9999").iterdir()) == ["R2026-01", "R2026-02"]


@contextmanager
def file_size_limit(limit: int) -> Iterator[None]:
    """A real write failure: the kernel refuses to grow any file beyond ``limit`` bytes (EFBIG)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous)


def test_a_failure_mid_write_leaves_no_release_and_no_partial_folder(tmp_path: Path) -> None:
    big = ung18({**COLUMNS, "VERSJON_UNG18_TBL1": ["UNG18_A" * 3000] * 5}, name="BIG")
    with file_size_limit(60_000), pytest.raises(Exception) as caught:
        deliver(tmp_path, [ung18(), big], info())
    assert not isinstance(caught.value, ReleaseExists | InvalidDelivery)
    assert leftovers(tmp_path) == ["PDB9999"]
    # The same release can then be delivered once the cause is gone.
    assert deliver(tmp_path, [ung18(), big], info()).path.is_dir()


def test_a_failure_in_the_dta_writer_reaches_the_caller_and_leaves_nothing(tmp_path: Path) -> None:
    # .dta stores every text at the width of the widest (here 2,007 bytes a row), the CSV as it is:
    # only the .dta writer exceeds the limit.
    rows = 100
    columns = {
        **{name: [values[i % 5] for i in range(rows)] for name, values in COLUMNS.items()},
        KEY: list(range(1_000_000, 1_000_000 + rows)),
        "VERSJON_UNG18_TBL1": ["UNG18_A" + "x" * 2000] + ["UNG18_B"] * (rows - 1),
    }
    wide = ung18(columns)
    with file_size_limit(150_000), pytest.raises(Exception) as caught:
        deliver(tmp_path, [wide], info(), formats=["dta"])
    assert not isinstance(caught.value, ReleaseExists | InvalidDelivery | IdentifiersFound)
    assert "File too large" in str(caught.value)  # the writer's own error (EFBIG)
    assert leftovers(tmp_path) == ["PDB9999"]
    delivered = deliver(tmp_path, [wide], info(), formats=["dta"])
    assert (delivered.path / "PDB9999_UNG18_v1.dta").stat().st_size > 150_000
    assert (delivered.path / "PDB9999_UNG18_v1.csv").stat().st_size < 150_000
    assert verify_checksums(delivered.path) == []


def test_a_delivery_holding_a_fodselsnummer_is_refused_and_removed(tmp_path: Path) -> None:
    fnr = synthetic_fnr(date(2006, 5, 17))
    columns = {**COLUMNS, "VERSJON_UNG18_TBL1": ["UNG18_A", fnr, "UNG18_B", "UNG18_B", "UNG18_A"]}
    with pytest.raises(IdentifiersFound) as caught:
        deliver(tmp_path, [ung18(columns)], info())
    assert fnr not in caught.value.detail
    assert "fodselsnummer in PDB9999_UNG18_v1" in caught.value.detail
    assert leftovers(tmp_path) == ["PDB9999"]


def test_zsav_compression_writes_a_zsav_file(tmp_path: Path) -> None:
    delivery = deliver(tmp_path, [ung18()], info(), formats=["sav"], sav_compression="zsav")
    frame, _ = pyreadstat.read_sav(str(delivery.path / "PDB9999_UNG18_v1.zsav"), output_format="polars")
    assert frame.height == 5
    assert delivery.manifest["datasets"][0]["files"] == ["PDB9999_UNG18_v1.zsav", "PDB9999_UNG18_v1.csv"]


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"project": "../PDB9999"}, "project '../PDB9999' must be a folder name"),
        ({"release": ".hidden"}, "release '.hidden' must be a folder name"),
        ({"consent_snapshot_at": datetime(2026, 1, 1)}, "must be timezone-aware"),
        ({"data_use_codes": ("HMB",)}, "is not a DUO CURIE"),
    ],
)
def test_unsafe_or_incomplete_requests_are_refused_before_writing(
    tmp_path: Path, changes: dict[str, object], reason: str
) -> None:
    release = str(changes.pop("release", "R1"))
    with pytest.raises(InvalidDelivery, match=reason):
        deliver(tmp_path, [ung18()], info(release, **changes))
    assert leftovers(tmp_path) == []


def test_extra_files_must_stay_inside_the_release(tmp_path: Path) -> None:
    with pytest.raises(InvalidDelivery, match="must be a relative path inside the release"):
        deliver(tmp_path, [ung18()], info(), extra_files={"../escape.txt": b"x"})


def test_checksums_taken_as_files_were_finished_are_used_only_while_the_size_still_holds(tmp_path) -> None:
    from engagement.research.delivery import CHECKSUMS, DeliveredFile, sha256_file, write_checksums

    (tmp_path / "a.csv").write_bytes(b"x,y\n1,2\n")
    (tmp_path / "b.csv").write_bytes(b"x\n1\n")
    known = {
        "a.csv": DeliveredFile("a.csv", 8, "0" * 64),  # as recorded by its writer
        "b.csv": DeliveredFile("b.csv", 99, "1" * 64),  # the file has changed since
    }
    listed = {f.path: f.sha256 for f in write_checksums(tmp_path, known)}
    assert listed == {"a.csv": "0" * 64, "b.csv": sha256_file(tmp_path / "b.csv")}
    assert (tmp_path / CHECKSUMS).read_text().splitlines()[0] == f"{'0' * 64}  a.csv"
