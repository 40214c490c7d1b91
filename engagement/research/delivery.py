"""A research delivery as one folder: data files and codebooks written side by side, manifest, checksums.

``deliver`` writes the whole folder ``<data store>/<project>/<release>/`` into a hidden sibling, scans
it for identity numbers and dates, and renames it into position only when complete; a release that
exists is never touched. The data files (``formats``) of each dataset are written at the same time:
``.sav`` (pyreadstat, which holds the GIL) and then ``.dta`` (our writer, in short numpy steps that
mostly hold it too) in one thread, Arrow's Parquet and CSV writers, which release it, in a thread each.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from importlib import metadata
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from engagement import clock
from engagement.problems import Conflict, DomainError
from engagement.research.codebooks import (
    CODEBOOK_CSV,
    CODEBOOK_HTML,
    CODEBOOK_XML,
    DATAPACKAGE,
    INSTRUMENTS,
    counts,
    datapackage,
    write_codebook_csv,
    write_codebook_html,
    write_codebook_xml,
    write_instruments_csv,
)
from engagement.research.dataset import Dataset
from engagement.research.formats import (
    ALL_FORMATS,
    Format,
    SavCompression,
    write_csv,
    write_dta,
    write_parquet,
    write_sav,
)
from engagement.research.scan import refuse_identifiers

CHECKSUMS = "SHA256SUMS"
MANIFEST = "manifest.json"
DELETION_LIST = "deletion_list.csv"
MANIFEST_FORMAT = "moba-engagement-delivery/1"

_COMPONENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}\Z")
_DUO = re.compile(r"DUO:\d{7}\Z")


class ReleaseExists(Conflict):
    status, slug, title = 409, "research-release-exists", "This release has already been delivered"


class InvalidDelivery(DomainError):
    status, slug, title = 422, "invalid-research-delivery", "The delivery cannot be written as asked"


@dataclass(frozen=True)
class DeliveryInfo:
    """What the manifest says about a delivery, beyond the datasets themselves."""

    project: str  # e.g. PDB9999; also the project's folder in the data store
    release: str  # e.g. R2026-01; a folder name, never reused
    consent_snapshot_at: datetime  # aware; the moment whose consent decided who is in it
    data_use_codes: Sequence[str] = ()  # DUO CURIEs, e.g. DUO:0000006, DUO:0000027
    data_use: Mapping[str, Any] = field(default_factory=dict)  # REK reference, end date, institution...
    kind: Literal["full", "since-last"] = "full"
    previous_release: str | None = None
    exclusions: Mapping[str, int] = field(default_factory=dict)  # counts only, never who
    created_at: datetime | None = None  # defaults to engagement.clock.now()
    title: str = ""


@dataclass(frozen=True)
class DeletionList:
    """Pseudonyms whose data the project must remove from earlier deliveries."""

    key: str  # the pseudonym variable's name, e.g. UNG_ID_PDB9999
    pseudonyms: Sequence[int]
    reason: str = "withdrawal with deletion"


@dataclass(frozen=True)
class DeliveredFile:
    path: str  # relative to the release folder, with forward slashes
    bytes: int
    sha256: str


@dataclass(frozen=True)
class Delivery:
    path: Path
    files: tuple[DeliveredFile, ...]
    manifest: dict[str, Any]


def write_json(data: Mapping[str, Any], path: Path) -> None:
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def write_deletion_list(deletion: DeletionList, path: Path) -> None:
    """One pseudonym per line under the key's name, sorted (the order says nothing about who)."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([deletion.key])
        for pseudonym in sorted(set(deletion.pseudonyms)):
            writer.writerow([int(pseudonym)])


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


def write_checksums(
    folder: Path, known: Mapping[str, DeliveredFile] | None = None
) -> tuple[DeliveredFile, ...]:
    """``SHA256SUMS`` over every file in ``folder`` (``sha256sum -c`` format); returns what it listed.

    ``known`` gives files already summed as they were finished (by relative path); each is summed
    again unless its size is still the one recorded."""
    listed = []
    known = known or {}
    for file in _files_under(folder):
        relative = file.relative_to(folder).as_posix()
        if relative == CHECKSUMS:
            continue
        size = file.stat().st_size
        summed = known.get(relative)
        listed.append(
            summed
            if summed is not None and summed.bytes == size
            else DeliveredFile(relative, size, sha256_file(file))
        )
    text = "".join(f"{f.sha256}  {f.path}\n" for f in listed)
    (folder / CHECKSUMS).write_text(text, encoding="utf-8")
    return tuple(listed)


def verify_checksums(folder: Path) -> list[str]:
    """Problems found checking ``SHA256SUMS`` against the folder: changed, missing and unlisted files."""
    problems = []
    listed: dict[str, str] = {}
    for line in (folder / CHECKSUMS).read_text(encoding="utf-8").splitlines():
        digest, _, relative = line.partition("  ")
        listed[relative] = digest
    for relative, digest in listed.items():
        file = folder / relative
        if not file.is_file():
            problems.append(f"{relative}: missing")
        elif sha256_file(file) != digest:
            problems.append(f"{relative}: checksum differs")
    for file in _files_under(folder):
        relative = file.relative_to(folder).as_posix()
        if relative != CHECKSUMS and relative not in listed:
            problems.append(f"{relative}: not listed")
    return problems


# --- the delivery --------------------------------------------------------------------------------------


def _software_version() -> str:
    try:
        return metadata.version("moba-engagement")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "unknown"


def _check_request(
    datasets: Sequence[Dataset], info: DeliveryInfo, formats: Iterable[str], extra_files: Mapping[str, bytes]
) -> None:
    problems = []
    for label, value in (("project", info.project), ("release", info.release)):
        if not _COMPONENT.match(value):
            problems.append(f"{label} {value!r} must be a folder name of A-Z, a-z, 0-9, _, . and -")
    if info.consent_snapshot_at.tzinfo is None:
        problems.append("the consent snapshot time must be timezone-aware")
    for code in info.data_use_codes:
        if not _DUO.match(code):
            problems.append(f"data-use code {code!r} is not a DUO CURIE like DUO:0000006")
    unknown = set(formats) - set(ALL_FORMATS)
    if unknown:
        problems.append(f"unknown formats {sorted(unknown)}")
    names = [d.name for d in datasets]
    if len({n.lower() for n in names}) != len(names):
        problems.append("dataset names repeat")
    if not datasets:
        problems.append("a delivery needs at least one dataset")
    for relative in extra_files:
        parts = PurePosixPath(relative).parts
        if not parts or PurePosixPath(relative).is_absolute() or any(p in ("..", ".", "") for p in parts):
            problems.append(f"extra file {relative!r} must be a relative path inside the release")
        elif not all(_COMPONENT.match(p) for p in parts):
            problems.append(f"extra file {relative!r} has an unsafe name")
    if problems:
        raise InvalidDelivery("; ".join(problems), problems=problems)


def deliver(
    store: Path | str,
    datasets: Sequence[Dataset],
    info: DeliveryInfo,
    *,
    formats: Iterable[Format] = ALL_FORMATS,
    deletion_list: DeletionList | None = None,
    extra_files: Mapping[str, bytes] | None = None,
    sav_compression: SavCompression = "rows",
    csv_delimiter: str = ",",
    folder: str | None = None,
    alongside: Callable[[], None] | None = None,
) -> Delivery:
    """Write ``<store>/<project>/<release>/`` completely, or not at all (``folder``: the project's
    folder in the store, when it is not named after the project).

    ``extra_files`` maps relative paths to contents to include (e.g. ``questionnaires/<id>.json``,
    ``README.md``). Files are written into a hidden sibling folder, scanned for fødselsnumre and
    dates (``scan.refuse_identifiers``), checksummed, and renamed into position. Raises
    ``ReleaseExists`` if the release folder exists; on any failure nothing is left behind.

    ``alongside``, if given, runs in another thread while the files are written (e.g. the database
    recording the delivery); the release is renamed into position only if it finished without error.
    The data files of each dataset are written concurrently (``_write_data_files`` says which share a
    thread). Every writer has finished before ``deliver`` returns or raises.
    """
    formats = tuple(dict.fromkeys(formats))
    extra_files = dict(extra_files or {})
    _check_request(datasets, info, formats, extra_files)
    if folder is not None and not _COMPONENT.match(folder):
        raise InvalidDelivery(f"folder {folder!r} must be a folder name of A-Z, a-z, 0-9, _, . and -")
    project_dir = Path(store) / (folder or info.project)
    final = project_dir / info.release
    if final.exists():
        raise ReleaseExists(
            f"release {info.release} of {info.project} exists; a release is never overwritten"
        )
    project_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{info.release}.partial-", dir=project_dir))
    side = ThreadPoolExecutor(1, thread_name_prefix="delivery-alongside") if alongside else None
    try:
        beside = side.submit(alongside) if side and alongside else None
        manifest, sealed = _write_all(
            work, datasets, info, formats, deletion_list, extra_files, sav_compression, csv_delimiter
        )
        if beside is not None:
            beside.result()
        refuse_identifiers(work, datasets=_data_files(manifest, datasets), texts=_file_texts(manifest))
        files = write_checksums(work, sealed)
        _fsync_tree(work, skip=sealed)
        try:
            os.rename(work, final)
        except OSError as error:  # another delivery of the same release won the race
            raise ReleaseExists(
                f"release {info.release} of {info.project} appeared while writing; it is never overwritten"
            ) from error
        _fsync_dir(project_dir)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    finally:
        if side is not None:
            side.shutdown(wait=True)  # never return (or raise) while it still runs
    return Delivery(final, files, manifest)


def _data_files(manifest: Mapping[str, Any], datasets: Sequence[Dataset]) -> dict[str, Dataset]:
    """Each data file written from a dataset, by name: the scan checks the values themselves."""
    by_name = {d.name: d for d in datasets}
    return {file: by_name[entry["name"]] for entry in manifest["datasets"] for file in entry["files"]}


def _file_texts(manifest: Mapping[str, Any]) -> list[str]:
    """The texts the data files carry besides the datasets' own (file labels, notes, Parquet metadata)."""
    return [json.dumps(manifest, ensure_ascii=False)]


def _write_all(
    work: Path,
    datasets: Sequence[Dataset],
    info: DeliveryInfo,
    formats: Sequence[str],
    deletion_list: DeletionList | None,
    extra_files: Mapping[str, bytes],
    sav_compression: SavCompression,
    csv_delimiter: str,
) -> tuple[dict[str, Any], dict[str, DeliveredFile]]:
    """Every file of the delivery into ``work``; returns the manifest, and the data files already
    summed and flushed to disk by their writers (each as soon as it was finished, beside the others)."""
    created_at = info.created_at or clock.now()
    sealed: dict[str, DeliveredFile] = {}
    dataset_entries = []
    csv_names: dict[str, str] = {}
    sav_names: dict[str, str] = {}
    for dataset in datasets:
        stem = f"{info.project}_{dataset.name}"
        versions = dataset.rows_per_version()
        notes = [
            f"project={info.project}",
            f"release={info.release}",
            f"dataset={dataset.name}",
            f"consent_snapshot_at={info.consent_snapshot_at.isoformat()}",
        ]
        label = f"MoBa {info.project} {dataset.name} {info.release}"
        written = []
        jobs: list[partial[None]] = []
        if "sav" in formats:
            name = f"{stem}.zsav" if sav_compression == "zsav" else f"{stem}.sav"
            jobs.append(
                partial(
                    write_sav,
                    dataset,
                    work / name,
                    file_label=label,
                    notes=notes,
                    compression=sav_compression,
                )
            )
            written.append(name)
            sav_names[dataset.name] = name
        if "dta" in formats:
            jobs.append(partial(write_dta, dataset, work / f"{stem}.dta", file_label=label))
            written.append(f"{stem}.dta")
        if "parquet" in formats:
            jobs.append(
                partial(
                    write_parquet,
                    dataset,
                    work / f"{stem}.parquet",
                    metadata={"project": info.project, "release": info.release},
                )
            )
            written.append(f"{stem}.parquet")
        # The CSV is always written: datapackage.json describes it and the codebook points to it.
        jobs.append(partial(write_csv, dataset, work / f"{stem}.csv", delimiter=csv_delimiter))
        written.append(f"{stem}.csv")
        csv_names[dataset.name] = f"{stem}.csv"
        for file in _write_data_files(jobs):
            sealed[file.path] = file
        dataset_entries.append(
            {
                "name": dataset.name,
                "rows": dataset.num_rows,
                "variables": len(dataset.variables),
                "primary_key": list(dataset.primary_key),
                "version_column": dataset.version_column,
                "rows_per_version": versions,
                "files": written,
            }
        )
    counted = {dataset.name: counts(dataset) for dataset in datasets}
    write_codebook_csv(datasets, work / CODEBOOK_CSV, counted)
    write_codebook_xml(datasets, work / CODEBOOK_XML, info, sav_names or csv_names, counted)
    write_codebook_html(datasets, work / CODEBOOK_HTML, info, counted)
    write_json(datapackage(datasets, info, csv_names, delimiter=csv_delimiter), work / DATAPACKAGE)
    has_instruments = write_instruments_csv(datasets, work / INSTRUMENTS)
    deletion_entry = None
    if deletion_list is not None:
        write_deletion_list(deletion_list, work / DELETION_LIST)
        deletion_entry = {
            "file": DELETION_LIST,
            "key": deletion_list.key,
            "count": len(set(deletion_list.pseudonyms)),
            "reason": deletion_list.reason,
        }
    for relative, content in extra_files.items():
        target = work / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    manifest: dict[str, Any] = {
        "format": MANIFEST_FORMAT,
        "project": info.project,
        "release": info.release,
        "kind": info.kind,
        "previous_release": info.previous_release,
        "created_at": created_at.isoformat(),
        "software_version": _software_version(),
        "consent_snapshot_at": info.consent_snapshot_at.isoformat(),
        "data_use": {"codes": list(info.data_use_codes), **dict(info.data_use)},
        "exclusions": dict(info.exclusions),
        "datasets": dataset_entries,
        "deletion_list": deletion_entry,
        "metadata_files": [
            CODEBOOK_CSV,
            CODEBOOK_XML,
            CODEBOOK_HTML,
            DATAPACKAGE,
            *([INSTRUMENTS] if has_instruments else []),
        ],
        "extra_files": sorted(extra_files),
        "checksums": CHECKSUMS,
    }
    write_json(manifest, work / MANIFEST)
    return manifest, sealed


def _write_data_files(jobs: Sequence[partial[None]]) -> list[DeliveredFile]:
    """Run one dataset's data-file writers side by side; returns each file, summed and flushed.

    The writers that hold the GIL share one thread, one after the other: ``.sav`` (pyreadstat holds
    it for the whole file) and ``.dta``. Our ``.dta`` writer (``stata``) takes about 0.5 s for
    100,000 x 300, in a few short numpy steps per variable that each need the GIL back: beside a
    busy Python thread it took four times as long, and in a thread of its own beside ``.sav`` the
    delivery was no faster (it waits for the GIL while ``.sav`` is written). The process of its own
    that ``.dta`` had while pyreadstat wrote it (5 to 12 s for such a table) would cost more to start
    than the writer now takes. Arrow's writers (Parquet, CSV) release the GIL and each get a thread of
    their own beside them."""
    holding_the_gil = [job for job in jobs if job.func in (write_sav, write_dta)]
    releasing_the_gil = [job for job in jobs if job not in holding_the_gil]
    with ThreadPoolExecutor(1 + len(releasing_the_gil), thread_name_prefix="delivery-writer") as pool:
        futures: list[Future[Any]] = [
            pool.submit(_write_one_after_another, holding_the_gil),
            *(pool.submit(_write_sealed, job.func, job.args, job.keywords) for job in releasing_the_gil),
        ]
        # Every writer finishes (or fails) before this returns or raises: nothing writes into the
        # folder while it is removed.
        wait(futures)
        return [file for future in futures for file in future.result()]


def _write_one_after_another(jobs: Sequence[partial[None]]) -> list[DeliveredFile]:
    return [file for job in jobs for file in _write_sealed(job.func, job.args, job.keywords)]


def _write_sealed(
    write: Callable[..., None], args: Sequence[Any], keywords: Mapping[str, Any]
) -> list[DeliveredFile]:
    """Run one data-file writer (``write(dataset, path, ...)``), then sum its file and flush it to
    disk: the file is final, and this runs beside the other writers rather than after them all."""
    write(*args, **keywords)
    path = Path(args[1])
    digest = sha256_file(path)
    with path.open("rb") as handle:
        os.fsync(handle.fileno())
    return [DeliveredFile(path.name, path.stat().st_size, digest)]


def _fsync_tree(folder: Path, skip: Collection[str] = ()) -> None:
    """Flush every file (but those in ``skip``, relative paths already flushed) and every folder."""
    for file in _files_under(folder):
        if file.relative_to(folder).as_posix() in skip:
            continue
        with file.open("rb") as handle:
            os.fsync(handle.fileno())
    for directory in [folder, *(p for p in folder.rglob("*") if p.is_dir())]:
        _fsync_dir(directory)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
