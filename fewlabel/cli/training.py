"""Commands of the training pipeline: run, retry, plan, config, cache gc."""

from __future__ import annotations

import argparse
import json
import sys

from fewlabel.cli.launch import launch
from fewlabel.cli.options import check_run, config, number, with_config, with_dask, with_json
from fewlabel.errors import UserError


def cmd_run(args) -> int:
    """Run the training flow and print its result."""
    resolved = config(args)
    from fewlabel.dataset import check_inputs
    from fewlabel.flows.train import STAGES, train_flow

    check_inputs(resolved.data)
    if args.from_stage is not None and args.from_stage not in STAGES:
        raise UserError(f"--from-stage {args.from_stage!r}: not a stage; stages: {', '.join(STAGES)}")
    print_run(launch(train_flow, args, resolved, from_stage=args.from_stage), args.json)
    return 0


def print_run(summary: dict, as_json: bool) -> None:
    if as_json:
        keys = ("flow_run_id", "stages", "metrics", "artifacts", "report", "run_record")
        print(json.dumps({k: summary[k] for k in keys}))
    else:
        from fewlabel.report import run_text

        print(run_text(summary))


def cmd_retry(args) -> int:
    """Re-run a run's recorded config (any run, failed or crashed included): finished stages come back Cached."""
    from fewlabel import runs
    from fewlabel.cli.curves import print_curve
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
    resolved, run_id = Config.model_validate(record["config"]), record["flow_run_id"]
    curve = record["kind"] == "curve"
    rows = plan(CURVE if curve else PIPELINE, every_label(resolved) if curve else resolved, None)
    reused = ", ".join(r["stage"] for r in rows if r["action"] == "cached") or "nothing"
    running = ", ".join(r["stage"] for r in rows if r["action"] == "run") or "nothing"
    print(
        f"retrying {record['kind']} run {run_id} ({record.get('status', 'completed')}): reusing {reused}; "
        f"running {running}",
        file=sys.stderr,
        flush=True,
    )
    summary = launch(curve_flow if curve else train_flow, args, resolved, retry_of=run_id)
    (print_curve if curve else print_run)(summary, args.json)
    return 0


def cmd_plan(args) -> int:
    """Print, without running anything, what `fewlabel run` would recompute and why."""
    resolved = config(args)
    from fewlabel import runs
    from fewlabel.flows.train import PIPELINE
    from fewlabel.orchestration.plan import plan

    try:
        last = runs.read_run("latest")
    except UserError:
        last = None
    rows = plan(PIPELINE, resolved, last)
    if args.json:
        print(json.dumps({"plan": rows}))
    else:
        width = max(len(r["stage"]) for r in rows)
        for r in rows:
            print(f"{r['stage']:<{width}}  {r['action']:<6}  {r['why']}")
    return 0


def cmd_config(args) -> int:
    """Print the resolved config as YAML."""
    import yaml

    print(yaml.safe_dump(config(args).model_dump(mode="json"), sort_keys=False), end="")
    return 0


def cmd_gc(args) -> int:
    """Remove the artifacts that no kept run references."""
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


def add_parsers(sub: argparse._SubParsersAction) -> None:
    run = sub.add_parser("run", help="run the training flow and print the result", description=cmd_run.__doc__)
    with_json(with_dask(with_config(run)))
    run.add_argument(
        "--from-stage", metavar="STAGE", help="recompute this stage and all after it, reusing the earlier ones"
    )
    run.set_defaults(func=cmd_run)

    retry = sub.add_parser(
        "retry",
        help="re-run a run's recorded config (failed or crashed too), reusing finished stages",
        description=cmd_retry.__doc__,
    )
    with_json(with_dask(retry), "the result as `fewlabel run --json` does,")
    retry.add_argument("run", help="flow-run id, or latest (the most recently started run)")
    retry.set_defaults(func=cmd_retry)

    plan = sub.add_parser(
        "plan", help="show which stages a run would reuse or recompute, and why", description=cmd_plan.__doc__
    )
    with_json(with_config(plan), "the plan")
    plan.set_defaults(func=cmd_plan)

    cfg = with_config(
        sub.add_parser("config", help="print the resolved config as YAML", description=cmd_config.__doc__)
    )
    cfg.set_defaults(func=cmd_config)

    cache = sub.add_parser("cache", help="manage stored artifacts", description="Manage stored artifacts.")
    cache_sub = cache.add_subparsers(dest="cache_command", required=True, metavar="COMMAND")
    gc = cache_sub.add_parser("gc", help="remove artifacts that no kept run references", description=cmd_gc.__doc__)
    gc.add_argument(
        "--keep",
        type=number(int, 1, 1_000_000, "a number of runs"),
        default=5,
        metavar="N",
        help="keep the N most recent runs (default 5)",
    )
    gc.add_argument("--dry-run", action="store_true", help="only list what would be removed")
    gc.set_defaults(func=cmd_gc)
