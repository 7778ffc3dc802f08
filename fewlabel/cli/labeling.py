"""Commands for labeling: suggest, labels (list, add, export)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from fewlabel.cli.launch import launch
from fewlabel.cli.options import check_run, config, number, with_config, with_json
from fewlabel.errors import UserError
from fewlabel.fields import SEED_MAX


def cmd_suggest(args) -> int:
    """Suggest the unlabeled sentences to label next: a CSV with an empty label column to fill in."""
    from fewlabel.selection import check_strategy

    run = check_run(args.run)
    selection = config(args).selection
    strategy = check_strategy(args.strategy or selection.strategy)
    n = args.n if args.n is not None else selection.n
    from fewlabel.flows.suggest import suggest_flow

    result = launch(suggest_flow, args, run=run, n=n, strategy=strategy, pool_max=selection.pool_max, seed=args.seed)
    if args.json:
        print(json.dumps({"suggestions": result["suggestions"], "n": result["n"], "strategy": strategy}))
    else:
        print(f"{result['n']} sentences to label ({strategy}, model of run {result['run']}): {result['suggestions']}")
        print("fill in the label column (a class, skip, or empty), then: fewlabel labels add " + result["suggestions"])
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
    labels.check_known(frame["label"], classes_of(runs.read_run(check_run(args.run))), args.csv)
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


def add_parsers(sub: argparse._SubParsersAction) -> None:
    from fewlabel.selection import STRATEGIES

    suggest = sub.add_parser(
        "suggest", help="suggest the unlabeled sentences to label next", description=cmd_suggest.__doc__
    )
    with_json(with_config(suggest))
    suggest.add_argument("--run", default="latest", help="the run whose model scores the pool (default: latest)")
    suggest.add_argument(
        "--n", type=number(int, 1, 10_000, "a number of sentences"), help="how many sentences (default: selection.n)"
    )
    suggest.add_argument("--strategy", help=f"{', '.join(STRATEGIES)} (default: selection.strategy)")
    suggest.add_argument("--seed", type=number(int, 0, SEED_MAX, "a seed"), default=0)
    suggest.set_defaults(func=cmd_suggest)

    labels = sub.add_parser(
        "labels", help="the label store: list what was added (add, export)", description=cmd_labels.__doc__
    )
    with_json(labels, "the list")
    labels.set_defaults(func=cmd_labels)
    labels_sub = labels.add_subparsers(dest="labels_command", metavar="COMMAND")
    add = labels_sub.add_parser(
        "add", help="store the labels filled in a suggestions CSV", description=cmd_labels_add.__doc__
    )
    add.add_argument("csv")
    add.add_argument("--run", default="latest", help="the run whose classes the labels must be (default: latest)")
    with_json(add)
    add.set_defaults(func=cmd_labels_add)
    export = labels_sub.add_parser(
        "export", help="write every stored label to one CSV", description=cmd_labels_export.__doc__
    )
    export.add_argument("--output", help="file to write (default: data/labels/export.csv)")
    export.add_argument("--force", action="store_true")
    with_json(export)
    export.set_defaults(func=cmd_labels_export)
