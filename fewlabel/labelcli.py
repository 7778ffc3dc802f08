"""The labeling commands of ``fewlabel``: suggest, labels (list, add, export), simulate.

Kept apart from :mod:`fewlabel.cli`, which adds them to its parser with :func:`add_commands`.
"""

from __future__ import annotations

import json
from pathlib import Path

from fewlabel.errors import UserError


def _config(args):
    from fewlabel.config import load_config

    return load_config(args.config, args.set or [])


def _runner(flow, args):
    from fewlabel.orchestration.runner import with_runner

    return with_runner(flow, getattr(args, "dask_address", None), getattr(args, "dask_workers", None))


def cmd_suggest(args) -> int:
    from fewlabel.selection import check_strategy

    run = args.check_run(args.run)
    config = _config(args)
    strategy = check_strategy(args.strategy or config.selection.strategy)
    n = args.n if args.n is not None else config.selection.n
    if n < 1:
        raise UserError(f"--n {n}: give a number of sentences of at least 1")
    from fewlabel.flows.suggest import suggest_flow

    result = suggest_flow(run=run, n=n, strategy=strategy, pool_max=config.selection.pool_max, seed=args.seed)
    if not args.json:
        print(f"{result['n']} sentences to label ({strategy}, model of run {result['run']}): {result['suggestions']}")
        print("fill in the label column (a class, skip, or empty), then: fewlabel labels add " + result["suggestions"])
    else:
        print(json.dumps({"suggestions": result["suggestions"], "n": result["n"], "strategy": strategy}))
    return 0


def cmd_labels(args) -> int:
    """List the label store's files: when, how, how many labels and per class."""
    from fewlabel import labels

    stored = labels.read_store()
    if args.json:
        groups = [
            {
                "file": str(labels.labels_dir() / f),
                "when": str(g["when"].iloc[0]),
                "how": g["how"].iloc[0],
                "labels": len(g),
                "per_class": {str(k): int(v) for k, v in g["label"].value_counts().sort_index().items()},
            }
            for f, g in stored.groupby("file", sort=True)
        ]
        print(json.dumps({"files": groups, "labels": len(stored)}))
        return 0
    if stored.empty:
        print(f"no labels added yet ({labels.labels_dir()} has no label files)")
        return 0
    for f, g in stored.groupby("file", sort=True):
        per = ", ".join(f"{k} {v}" for k, v in g["label"].value_counts().sort_index().items())
        print(f"{g['when'].iloc[0]:%Y-%m-%d %H:%M:%S} UTC  {len(g):>5} labels ({per})  {g['how'].iloc[0]}  {f}")
    print(f"{len(stored)} labels in {stored['file'].nunique()} files under {labels.labels_dir()}")
    return 0


def cmd_labels_add(args) -> int:
    """Store the labels filled in a suggestions CSV (the CSV itself is only read)."""
    from fewlabel import labels, runs
    from fewlabel.suggestions import classes_of

    frame = labels.read_suggestions(args.csv)
    labels.check_known(frame["label"], classes_of(runs.read_run(args.check_run(args.run))), args.csv)
    path = labels.append(frame, f"file:{Path(args.csv).resolve()}")
    n = 0 if path is None else int(frame["label"].notna().sum() - (frame["label"] == labels.SKIP).sum())
    if args.json:
        print(json.dumps({"file": None if path is None else str(path), "stored": n}))
    elif path is None:
        print(f"{args.csv}: no labels filled in; nothing stored")
    else:
        print(f"stored {n} labels in {path}; the next run's ingest reads them")
    return 0


def cmd_labels_export(args) -> int:
    """One CSV of every stored label (text, label, origin, row, when, how, file)."""
    from fewlabel import labels, store

    stored = labels.read_store()
    target = Path(args.output) if args.output else labels.labels_dir() / "export.csv"
    if target.exists() and not args.force and args.output:
        raise UserError(f"--output {args.output}: file exists; pass --force to overwrite it, or choose another name")
    if not target.parent.is_dir():
        raise UserError(f"--output {args.output}: folder {target.parent} does not exist; create it first")
    with store.atomic_path(target) as tmp:
        stored.to_csv(tmp, index=False, encoding="utf-8")
    if args.json:
        print(json.dumps({"export": str(target), "labels": len(stored)}))
    else:
        print(f"{len(stored)} labels written to {target}")
    return 0


def cmd_simulate(args) -> int:
    config = _config(args)
    from fewlabel.flows.simulate import simulate_flow

    result = _runner(simulate_flow, args)(config)
    if args.json:
        print(json.dumps({k: result[k] for k in ("flow_run_id", "plot", "table", "summary")}))
    else:
        print(result["table_md"])
        print(f"plot: {result['plot']}\ntable: {result['table']}")
    return 0


def add_commands(sub, with_config, with_dask, check_run) -> None:
    """Add suggest, labels and simulate to the ``fewlabel`` parser's subcommands."""

    def defaults(p, func):
        p.set_defaults(func=func, check_run=check_run)
        return p

    from fewlabel.selection import STRATEGIES

    sg = with_config(sub.add_parser("suggest", help="suggest the unlabeled sentences to label next"))
    sg.add_argument("--run", default="latest", help="the run whose model scores the pool (default: latest)")
    sg.add_argument("--n", type=int, help="how many sentences (default: selection.n, 20)")
    sg.add_argument("--strategy", help=f"{', '.join(STRATEGIES)} (default: selection.strategy)")
    sg.add_argument("--seed", type=int, default=0)
    sg.add_argument("--json", action="store_true", help="print the result as one JSON line last")
    defaults(sg, cmd_suggest)

    lb = sub.add_parser("labels", help="the label store: list what was added (add, export)")
    lb.add_argument("--json", action="store_true")
    defaults(lb, cmd_labels)
    lsub = lb.add_subparsers(dest="labels_command")
    add = lsub.add_parser("add", help="store the labels filled in a suggestions CSV")
    add.add_argument("csv")
    add.add_argument("--run", default="latest", help="the run whose classes the labels must be (default: latest)")
    add.add_argument("--json", action="store_true")
    defaults(add, cmd_labels_add)
    exp = lsub.add_parser("export", help="write every stored label to one CSV")
    exp.add_argument("--output", help="file to write (default: data/labels/export.csv)")
    exp.add_argument("--force", action="store_true")
    exp.add_argument("--json", action="store_true")
    defaults(exp, cmd_labels_export)

    sim = with_dask(with_config(sub.add_parser("simulate", help="measure selection strategies against random")))
    sim.add_argument("--json", action="store_true")
    defaults(sim, cmd_simulate)
