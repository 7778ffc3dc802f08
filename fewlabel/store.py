"""The one module that owns artifact I/O: naming, atomic writes, content hashes, verified reads.

Every stage writes one directory, ``<data>/<layer>/<stage>-<key>``, built in a temporary sibling and
renamed into place only when complete, with a ``manifest.json`` listing each file's SHA-256. A stage
hands downstream a :data:`Ref` (a small JSON dict), never a DataFrame; readers check the hash before
parsing, so a torn or altered file is never read as if it were good. Readers and writers take the
file names of :mod:`fewlabel.catalog` and refuse a name the artifact's stage does not declare.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import logging
import os
import shutil
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO, NotRequired, TypedDict

import pyarrow as pa
import pyarrow.parquet as pq

from fewlabel.catalog import CATALOG, check_file
from fewlabel.errors import UserError


class Ref(TypedDict):
    """What a stage hands downstream instead of data: where its artifact is and what it holds (JSON-able;
    Prefect stores it as the task's result, and it is the artifact's ``manifest.json``)."""

    stage: str
    key: str
    """The cache key it was built under (``fewlabel-<stage>-<hash>``)."""
    path: str
    """Its folder, relative to the data folder."""
    files: dict[str, str]
    """Each file's SHA-256, by name."""
    sha256: str
    """The hash of ``files``: what downstream cache keys depend on."""
    stats: dict[str, Any]
    """What the stage reported (row counts, vocabulary...)."""
    lineage: NotRequired[dict[str, Any] | None]
    """What it was computed from (code, config, inputs); absent in a narrowed Ref."""


LAYERS = {stage: entry.layer for stage, entry in CATALOG.items()}
MANIFEST = "manifest.json"
log = logging.getLogger(__name__)
_BUILDING: dict[Path, str] = {}
"""The stage of each artifact folder being built (:func:`materialize`), for the writers to check names."""


class CorruptArtifact(UserError):
    """An artifact's bytes no longer match the hash recorded when it was written."""


def data_dir() -> Path:
    """The data folder: ``$FEWLABEL_DATA_DIR`` or ``./data``."""
    return Path(os.environ.get("FEWLABEL_DATA_DIR", "data")).resolve()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _digest(handle, chunk: int = 1 << 20) -> str:
    """SHA-256 of an open binary file from its current position, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    while block := handle.read(chunk):
        digest.update(block)
    return digest.hexdigest()


def sha256_file(path: Path) -> str:
    """The one file hasher: SHA-256 of a file, never held in memory whole."""
    with open(path, "rb") as fh:
        return _digest(fh)


HOST = sha256_bytes(socket.gethostname().encode())[:8]
"""This machine, in the names of temporary files (a data folder may be shared by several machines)."""


def leftover_name(prefix: str, name: str) -> str:
    """``<prefix><name>-<host>-<pid>-<random>``: a temporary file or folder that says which process
    owns it, so the next run can remove it as soon as that process is gone (:func:`sweep_leftovers`)."""
    return f"{prefix}{name}-{HOST}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def process_alive(pid: int) -> bool:
    """True if a process ``pid`` exists on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_leftovers(folders: list[Path] | None = None) -> list[Path]:
    """Remove the temporary files and folders of writes whose process (on this machine) has died:
    a killed run leaves them, the next run removes them. Returns what was removed."""
    root = data_dir()
    folders = folders or [root / layer for layer in sorted(set(LAYERS.values()))] + [
        root / "runs",
        root / "predictions",
    ]
    removed = []
    for folder in folders:
        for item in folder.glob(".*") if folder.is_dir() else []:
            parts = item.name.rsplit("-", 3)
            if not item.name.startswith((".tmp-", ".trash-")) or len(parts) != 4 or parts[1] != HOST:
                continue
            if parts[2].isdigit() and not process_alive(int(parts[2])):
                if item.is_dir():
                    shutil.rmtree(item, ignore_errors=True)
                else:
                    item.unlink(missing_ok=True)
                removed.append(item)
    return removed


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A temporary sibling of ``path`` to write; it replaces ``path`` only if the block succeeds, and
    never outlives it (``with atomic_path(p) as tmp: tmp.write_bytes(...)``)."""
    path = Path(path)
    tmp = path.with_name(leftover_name(".tmp-", path.name))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        yield tmp
        with open(tmp, "rb") as written:
            os.fsync(written.fileno())
        os.replace(tmp, path)
    except OSError as exc:  # a data folder that refuses writes is the user's to fix: say so in one line
        error = _cannot_write(exc)
        if error is None:
            raise
        raise error from exc
    finally:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass


def atomic_write(path: Path, data: str | bytes) -> None:
    """The one atomic file write: ``path`` holds either its old content or all of ``data``."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)


def canonical_hash(obj: Any) -> str:
    """SHA-256 of a JSON-able object, independent of dict order."""
    return sha256_bytes(json.dumps(obj, sort_keys=True, separators=(",", ":")).encode())


def stage_dir(stage: str, key: str) -> Path:
    return data_dir() / LAYERS[stage] / f"{stage}-{key.rsplit('-', 1)[-1][:16]}"


def _load_manifest(folder: Path) -> Ref | None:
    """The manifest of a complete, intact stage folder, else None (with a warning if damaged)."""
    manifest = folder / MANIFEST
    if not manifest.exists():
        if folder.exists():
            log.warning("artifact folder %s has no manifest: recomputing it", folder)
        return None
    try:
        ref = json.loads(manifest.read_text(encoding="utf-8"))
        damaged = [
            name
            for name, digest in ref["files"].items()
            if not (folder / name).is_file() or sha256_file(folder / name) != digest
        ]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("artifact manifest %s is unreadable (%s): recomputing", manifest, exc)
        return None
    if damaged:
        log.warning("artifact %s: %s missing or altered on disk: recomputing", folder, ", ".join(damaged))
        return None
    return ref


def committed(stage: str) -> list[Ref]:
    """The manifests of every committed artifact folder of ``stage`` (their files are not hashed here:
    :func:`load_ref` the one you use)."""
    refs = []
    for manifest in sorted((data_dir() / LAYERS[stage]).glob(f"{stage}-*/{MANIFEST}")):
        try:
            ref = json.loads(manifest.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(ref, dict) and ref.get("stage") == stage and "key" in ref:
            refs.append(ref)
    return refs


def load_ref(stage: str, key: str) -> Ref | None:
    """The Ref of the intact artifact for (stage, key), or None if it is missing or damaged."""
    return _load_manifest(stage_dir(stage, key))


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """An exclusive advisory lock, so two runs never build the same artifact at once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fault_point(stage: str) -> None:
    """Test hook: ``FEWLABEL_FAULT=<stage>:fail`` raises, ``<stage>:pause`` sleeps (to be killed).

    ``<stage>:pause=<seconds>`` sleeps that long, then lets the stage carry on normally. Each pause
    first touches ``<data>/.paused-<stage>``. Placed after a stage has computed and written its
    files but before they are committed, the worst moment for a crash. Unset (always, outside
    tests), it does nothing.
    """
    target, _, action = os.environ.get("FEWLABEL_FAULT", "").partition(":")
    if target != stage:
        return
    action, _, seconds = action.partition("=")
    if action == "pause":
        (data_dir() / f".paused-{stage}").touch()
        time.sleep(float(seconds) if seconds else 600)
        if seconds:
            return
    raise RuntimeError(f"injected failure in stage {stage} (FEWLABEL_FAULT)")


NO_ROOM = {
    errno.ENOSPC: "free space on it",
    errno.EDQUOT: "free space on it (or raise your disk quota)",
    errno.EFBIG: "raise the file size limit (ulimit -f)",
    errno.EROFS: "make it writable",
    errno.EACCES: "make it writable",
}
"""Write errors that repeat until the user acts, and what to do. EIO, EAGAIN... stay OSErrors,
which Prefect retries (``stage.is_transient``)."""


def _cannot_write(exc: OSError) -> UserError | None:
    """A UserError naming the data folder and the fix, if ``exc`` is the folder refusing writes."""
    folder = data_dir()
    where = None if exc.filename is None else Path(os.fsdecode(exc.filename)).resolve()
    if exc.errno not in NO_ROOM or (where is not None and not where.is_relative_to(folder)):
        return None
    return UserError(
        f"cannot write to the data folder {folder}: {os.strerror(exc.errno)}; "
        f"{NO_ROOM[exc.errno]}, or set FEWLABEL_DATA_DIR to a writable folder with room"
    )


def materialize(
    stage: str, key: str, build: Callable[[Path], dict[str, Any]], lineage: dict | None = None, force: bool = False
) -> Ref:
    """Return the artifact for (stage, key), building it with ``build(tmp_folder) -> stats`` if needed.

    The folder appears under its final name only once every file and the manifest are written and
    synced; a failure (or a kill) leaves at most a ``.tmp-`` folder that nothing reads. ``force``
    rebuilds even an intact artifact; ``lineage`` (what it was computed from) goes in the manifest.
    A data folder that refuses writes (full, read-only: :data:`NO_ROOM`) raises a UserError naming
    it; other OSErrors propagate as they are, so Prefect retries the transient ones.
    """
    try:
        return _materialize(stage, key, build, lineage, force)
    except OSError as exc:
        error = _cannot_write(exc)
        if error is None:
            raise
        raise error from exc


def _materialize(
    stage: str, key: str, build: Callable[[Path], dict[str, Any]], lineage: dict | None, force: bool
) -> Ref:
    final = stage_dir(stage, key)
    with locked(final.parent / f".{final.name}.lock"):
        ref = None if force else _load_manifest(final)
        if ref is not None:
            # Prefect's cache had no record of it: typically another run built it while we waited
            # on the lock (or a run was killed after committing it, before Prefect recorded it)
            log.info("artifact %s already built (by another run): reusing it", final)
            return ref
        tmp = final.parent / leftover_name(".tmp-", final.name)
        tmp.mkdir(parents=True)
        _BUILDING[tmp] = stage
        try:
            stats = build(tmp)
            fault_point(stage)
            files = {}
            for path in sorted(tmp.iterdir()):
                with open(path, "rb") as fh:
                    os.fsync(fh.fileno())
                files[path.name] = sha256_file(path)
            ref = {
                "stage": stage,
                "key": key,
                "path": str(final.relative_to(data_dir())),
                "files": files,
                "sha256": canonical_hash(files),
                "stats": stats,
                "lineage": lineage,
            }
            (tmp / MANIFEST).write_text(json.dumps(ref, indent=2, sort_keys=True), encoding="utf-8")
            _fsync_dir(tmp)
            if final.exists():
                trash = final.parent / leftover_name(".trash-", final.name)
                final.rename(trash)
                shutil.rmtree(trash, ignore_errors=True)
            tmp.rename(final)
            _fsync_dir(final.parent)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        finally:
            _BUILDING.pop(tmp, None)
    log.info("built artifact %s", final)
    return ref


def narrow(ref: Ref, *names: str) -> Ref:
    """The Ref restricted to some of its files: a stage reading only these depends only on them."""
    files = {name: ref["files"][name] for name in names}
    return {
        "stage": ref["stage"],
        "key": ref["key"],
        "path": ref["path"],
        "files": files,
        "sha256": canonical_hash(files),
        "stats": {},
    }


def parquet_rows(ref: Ref, name: str) -> int:
    """Rows of a Parquet file of an artifact, from its footer (the file is verified first)."""
    with open_verified(ref, name) as handle:
        return pq.ParquetFile(handle).metadata.num_rows


def artifact_path(ref: Ref, name: str) -> Path:
    """The path of one file of an artifact, a file its stage declares (what every reader goes through)."""
    check_file(ref["stage"], name)
    return data_dir() / ref["path"] / name


def output_path(folder: Path, name: str) -> Path:
    """The path to write file ``name`` of the artifact being built in ``folder`` (by :func:`materialize`),
    a file its stage declares (what every writer goes through)."""
    stage = _BUILDING.get(Path(folder))
    if stage is None:
        raise RuntimeError(f"{folder} is not an artifact folder being built: write {name} from a stage's build")
    check_file(stage, name)
    return Path(folder) / name


def _missing(path: Path) -> CorruptArtifact:
    return CorruptArtifact(f"{path} is missing: run the flow again to rebuild it")


def _altered(path: Path) -> CorruptArtifact:
    return CorruptArtifact(f"{path} was altered after it was written: run the flow again to rebuild it")


def read_bytes(ref: Ref, name: str) -> bytes:
    """The bytes of one file of an artifact, refused if they do not match the recorded hash."""
    path = artifact_path(ref, name)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise _missing(path) from None
    if sha256_bytes(data) != ref["files"][name]:
        raise _altered(path)
    return data


def open_verified(ref: Ref, name: str, chunk: int = 1 << 20):
    """An open binary handle on one file of an artifact, positioned at 0, after checking its hash in
    blocks (the file is never held in memory whole)."""
    path = artifact_path(ref, name)
    try:
        handle = open(path, "rb")
    except FileNotFoundError:
        raise _missing(path) from None
    if _digest(handle, chunk) != ref["files"][name]:
        handle.close()
        raise _altered(path)
    handle.seek(0)
    return handle


def read_table(ref: Ref, name: str, columns: list[str] | None = None) -> pa.Table:
    """A verified Parquet table of an artifact."""
    return pq.read_table(pa.BufferReader(read_bytes(ref, name)), columns=columns)


def read_json(ref: Ref, name: str) -> Any:
    return json.loads(read_bytes(ref, name))


def parquet_batches(
    source: Path | BinaryIO,
    batch_size: int = 65_536,
    columns: list[str] | None = None,
    dictionary: tuple[str, ...] = (),
) -> tuple[pa.Schema, Iterator[pa.Table]]:
    """(schema, generator of tables of at most ``batch_size`` rows) of a Parquet file (a path or an
    open binary handle), one batch at a time; a batch never spans two row groups.

    The string values of the ``dictionary`` columns (strings or lists of strings) come
    dictionary-encoded, as Parquet stores them (the same values, each distinct string held once per
    row group): read without building a string per value, and looked up once per distinct value.
    ``schema`` is the file's (strings, as written).
    """
    probe = pq.ParquetFile(source)
    paths = [c.path for c in probe.schema if c.path.split(".")[0] in dictionary]
    reader = pq.ParquetFile(source, read_dictionary=paths) if paths else probe
    schema = probe.schema_arrow if columns is None else pa.schema([probe.schema_arrow.field(c) for c in columns])

    def batches():
        for group in range(reader.num_row_groups):  # row group by row group: each has its own dictionary
            for batch in reader.iter_batches(batch_size=batch_size, row_groups=[group], columns=columns):
                yield pa.Table.from_batches([batch], schema=None if paths else schema)

    return schema, batches()


def iter_batches(
    ref: Ref,
    name: str,
    batch_size: int = 65_536,
    columns: list[str] | None = None,
    dictionary: tuple[str, ...] = (),
) -> tuple[pa.Schema, Iterator[pa.Table]]:
    """:func:`parquet_batches` of a verified file of an artifact.

    The file is checked against the manifest once, reading it in 1 MiB blocks, then read again from
    the same open handle one batch at a time: memory is bounded by the batch, not by the file.
    """
    handle = open_verified(ref, name)
    schema, batches = parquet_batches(handle, batch_size, columns, dictionary)

    def closing():
        with handle:  # closed when the batches are exhausted (or the generator is dropped)
            yield from batches

    return schema, closing()


@contextmanager
def table_writer(folder: Path, name: str, schema: pa.Schema) -> Iterator[Callable[[pa.Table], None]]:
    """Write a Parquet file batch by batch: ``with table_writer(out, "x.parquet", schema) as write:``."""
    with pq.ParquetWriter(output_path(folder, name), schema, compression="zstd") as writer:
        yield lambda table: writer.write_table(table.cast(schema))


def write_table(folder: Path, name: str, table: pa.Table) -> None:
    pq.write_table(table, output_path(folder, name), compression="zstd")


def write_json(folder: Path, name: str, obj: Any) -> None:
    output_path(folder, name).write_text(json.dumps(obj, indent=2, sort_keys=True, default=str), encoding="utf-8")
