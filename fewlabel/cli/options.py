"""Options several commands share (config, Dask, --json, --run, --output) and their checks."""

from __future__ import annotations

import argparse
import os
import re
import shutil
from pathlib import Path

from fewlabel.errors import UserError


class Parser(argparse.ArgumentParser):
    """argparse with its errors in one line, as every other error of the command: ``error: ...``, exit 2."""

    def error(self, message: str):
        self.exit(2, f"error: {self.prog}: {' '.join(message.split())} (see `{self.prog} --help`)\n")


def _plain(value: float) -> str:
    return f"{int(value):,}" if float(value).is_integer() else f"{value:g}"


def number(kind: type, low: float | None = None, high: float | None = None, what: str = "a number"):
    """An argparse type: a finite ``kind`` (int or float) within [low, high], or a one-line error."""

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text[:40]!r} is not {what}") from None
        if value != value or value in (float("inf"), float("-inf")):
            raise argparse.ArgumentTypeError(f"{text[:40]!r} is not {what}")
        if (low is not None and value < low) or (high is not None and value > high):
            bounds = f"from {_plain(low)} to {_plain(high)}" if high is not None else f"at least {_plain(low)}"
            raise argparse.ArgumentTypeError(f"{text[:40]!r}: give {what} {bounds}")
        return value

    return parse


def with_config(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--config", metavar="FILE", help="YAML file with config sections")
    parser.add_argument(
        "--set",
        action="append",
        metavar="SECTION.KEY=VALUE",
        help="override one config key (value parsed as YAML); repeatable",
    )
    return parser


def with_dask(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--dask-address",
        metavar="tcp://HOST:PORT",
        help="run the mapped stages (shards, curve points) on this Dask cluster "
        "(default: setting FEWLABEL_DASK_ADDRESS)",
    )
    where.add_argument(
        "--dask-workers",
        type=number(int, 1, 1024, "a number of worker processes"),
        metavar="N",
        help="run them on a local Dask cluster of N processes (default: setting FEWLABEL_DASK_WORKERS; neither: "
        "threads in this process)",
    )
    return parser


def with_json(parser: argparse.ArgumentParser, what: str = "the result") -> argparse.ArgumentParser:
    parser.add_argument("--json", action="store_true", help=f"print {what} as one JSON line last")
    return parser


def encoding(text: str) -> str:
    """An argparse type: an encoding text files are stored in (as ``data.encoding`` is checked)."""
    from fewlabel.config import check_encoding

    try:
        return check_encoding(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def config(args: argparse.Namespace):
    """The run configuration of ``--config`` and ``--set``, validated."""
    from fewlabel.config import load_config

    return load_config(args.config, args.set or [])


RUN_ID = re.compile(r"[A-Za-z0-9-]+")


def check_run(run: str) -> str:
    """--run: 'latest', 'production', a flow-run id, or an existing run record file (.json)."""
    if run in ("latest", "production") or RUN_ID.fullmatch(run):
        return run
    if run.endswith(".json") and Path(run).is_file():
        return run
    shown = run if len(run) <= 60 else run[:60] + "…"
    raise UserError(
        f"--run {shown!r}: give latest, production, a flow-run id (letters, digits and -) or the "
        "path of an existing run record (.json)"
    )


def check_output(output: str, force: bool) -> Path:
    """--output, checked before any work: its folder exists, it is not a folder, and it is not overwritten
    unless --force."""
    target = Path(output)
    if output.endswith(("/", os.sep)) or target.is_dir():
        raise UserError(f"--output {output}: is a folder; give a file name, e.g. {target / 'predictions.parquet'}")
    if not target.parent.is_dir():
        raise UserError(f"--output {output}: folder {target.parent} does not exist; create it first")
    if target.exists() and not force:
        raise UserError(f"--output {output}: file exists; pass --force to overwrite it, or choose another name")
    if not os.access(target.parent, os.W_OK):
        raise UserError(f"--output {output}: folder {target.parent} is not writable; choose another folder")
    return target


def copy_atomically(source: str | Path, target: Path) -> None:
    """Copy through the store's one atomic write: the target is whole or untouched, and no temporary
    file is left behind, whatever fails."""
    from fewlabel import store

    try:
        with store.atomic_path(target) as tmp:
            shutil.copyfile(source, tmp)
    except OSError as exc:
        raise UserError(
            f"--output {target}: could not write it ({exc.strerror or exc}); the result is in {source}"
        ) from None
