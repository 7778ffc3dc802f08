"""The files a stage reads from outside its own artifacts: read once, hashed from the bytes read, and
parsed from those same bytes.

A stage's cache key hashes its input files (your labeled and unlabeled files, the MR archive, the label
store): its *fingerprint*. Were the stage to open a file again to parse it, a file replaced in between (an
editor's save, a sync tool's atomic rename) would be parsed in one version and filed under the other's hash,
and a later run on the first version would come back Cached with the wrong content. So:

- the fingerprint hashes each file with :func:`file_hash`; inside :func:`keeping` it reads the file whole,
  once, hashes those bytes and keeps them (a :class:`Kept`) for the stage to parse;
- the stage's build runs inside :func:`pinned`: the hashes its key was computed from, and the kept bytes.
  :func:`read_bytes` of a pinned file returns the kept bytes; a file whose bytes were not kept (too large,
  or the build runs without the fingerprint's bytes) is read again and checked against its pinned hash. A
  file that changed, appeared or vanished since its hash was taken raises :class:`InputChanged`, which the
  stage retries (with a new key, from the file as it is then) and finally reports.

Outside :func:`pinned`, :func:`read_bytes` just reads the file. Each file is hashed once per run: the
fingerprint's hashes are what the stage pins, and kept bytes are not hashed again.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path

from fewlabel import store
from fewlabel.errors import UserError

KEEP_MAX = 256 * 2**20
"""Files larger than this are hashed in blocks and not kept: the build reads them again and checks them."""


class InputChanged(UserError):
    """An input file changed between the moment its hash was taken (the stage's cache key) and the moment
    the stage read it. Retried as a transient error; after the retries, one line naming the file."""


@dataclass
class Kept:
    """Bytes of input files as the fingerprint read and hashed them: ``{absolute path: (sha256, bytes)}``."""

    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return sum(len(data) for _, data in self.files.values())


@dataclass(frozen=True)
class _Pin:
    hashes: dict[str, str]
    kept: Kept


_KEEPING: ContextVar[Kept | None] = ContextVar("fewlabel_inputs_keeping", default=None)
_PINNED: ContextVar[_Pin | None] = ContextVar("fewlabel_inputs_pinned", default=None)


def _key(path: str | os.PathLike) -> str:
    return os.path.abspath(os.fspath(path))


def file_hash(path: str | os.PathLike) -> str:
    """SHA-256 of a file. Inside :func:`keeping`, the file is read once, whole, and its bytes are kept
    with their hash for the stage to parse (up to :data:`KEEP_MAX`)."""
    kept = _KEEPING.get()
    path = Path(path)
    if kept is None or path.stat().st_size > KEEP_MAX:
        return store.sha256_file(path)
    data = path.read_bytes()
    digest = store.sha256_bytes(data)
    kept.files[_key(path)] = (digest, data)
    return digest


def file_fingerprint(path: str, **_) -> dict[str, str]:
    """A stage's fingerprint of the one user file it reads (``path``); a problem is left for the stage."""
    try:
        return {path: file_hash(path)}
    except OSError as exc:
        return {"unreadable": str(exc)}


@contextmanager
def keeping() -> Iterator[Kept]:
    """Within the block, :func:`file_hash` keeps the bytes it hashes, in the Kept yielded."""
    kept = Kept()
    token = _KEEPING.set(kept)
    try:
        yield kept
    finally:
        _KEEPING.reset(token)


@contextmanager
def pinned(hashes: dict[str, str] | None, kept: Kept | None = None) -> Iterator[None]:
    """Within the block, :func:`read_bytes` gives each file as it was when ``hashes`` (``{path: sha256}``,
    a stage's fingerprint) were taken, or raises :class:`InputChanged`. ``None``: files are read as they are."""
    if hashes is None:
        yield
        return
    pin = _Pin({_key(path): digest for path, digest in hashes.items()}, kept or Kept())
    token = _PINNED.set(pin)
    try:
        yield
    finally:
        _PINNED.reset(token)


def read_bytes(path: str | os.PathLike) -> bytes:
    """A file's bytes: inside :func:`pinned`, exactly the bytes its pinned hash was taken from."""
    pin = _PINNED.get()
    if pin is None:
        return Path(path).read_bytes()
    key = _key(path)
    expected = pin.hashes.get(key)
    kept = pin.kept.files.get(key)
    if kept is not None and kept[0] == expected:
        return kept[1]
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        if expected is None:
            raise
        raise changed(path, "was removed") from None
    if expected is None:
        raise changed(path, "appeared")
    if store.sha256_bytes(data) != expected:
        raise changed(path, "was changed")
    return data


def changed(path: str | os.PathLike, what: str) -> InputChanged:
    return InputChanged(
        f"{path} {what} while this run read it (after its hash was taken for the cache key); stop whatever "
        "rewrites it during the run, then run again"
    )


def hashes(paths: Iterable[str | os.PathLike]) -> dict[str, str]:
    """``{str(path): sha256}`` of files, each hashed with :func:`file_hash`."""
    return {str(path): file_hash(path) for path in paths}
