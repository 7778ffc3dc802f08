"""Options several commands share (config, Dask, --json, --run, --output) and their checks."""

from __future__ import annotations

import argparse
import os
import re
import shutil
from pathlib import Path

from fewlabel.errors import UserError


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
        type=int,
        metavar="N",
        help="run them on a local Dask cluster of N processes (default: setting FEWLABEL_DASK_WORKERS; neither: "
        "threads in this process)",
    )
    return parser


def with_json(parser: argparse.ArgumentParser, what: str = "the result") -> argparse.ArgumentParser:
    parser.add_argument("--json", action="store_true", help=f"print {what} as one JSON line last")
    return parser


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
