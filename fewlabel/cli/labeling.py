"""Commands for labeling: suggest, labels (list, add, export)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from fewlabel.cli.launch import launch
from fewlabel.cli.options import check_output, check_run, config, number, with_config, with_json
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
    """List the label store per data set: each data set's files (when, how, how many labels, per class),
    and the labels stored without a data set, which no run uses, with the command that assigns them."""
    from fewlabel import labels

    stored = labels.read_store()
    current = labels.dataset_info(config(args).data) if (args.config or args.set) else None
    groups = []
    listed = labels.datasets()
    if current is not None and current["id"] not in listed:  # no labels yet: listed, with its id
        listed.append(current["id"])
    for dataset in [*listed, labels.UNASSIGNED]:
        rows = (
            stored[stored["applies_to"].isna()]
            if dataset == labels.UNASSIGNED
            else stored[stored["applies_to"] == dataset]
        )
        if rows.empty and dataset != (current or {}).get("id"):
            continue
        files = [
            {
                "file": str(labels.labels_dir() / f),
                "when": str(g["when"].iloc[0]),
                "how": g["how"].iloc[0],
                "given_for": g["dataset"].iloc[0],
                "labels": len(g),
                "per_class": {str(k): int(v) for k, v in g["label"].value_counts().sort_index().items()},
            }
            for f, g in rows.groupby("file", sort=True)
        ]
        if dataset == labels.UNASSIGNED:
            info = {"id": dataset}
        else:
            info = labels.describe(dataset) or (current if current and dataset == current["id"] else {"id": dataset})
        groups.append({**info, "labels": len(rows), "files": files})
    if args.json:
        print(
            json.dumps(
                {
                    "datasets": groups,
                    "files": [f for g in groups for f in g["files"]],
                    "labels": len(stored),
                    "unassigned": int(stored["applies_to"].isna().sum()),
                    "current": None if current is None else current["id"],
                }
            )
        )
        return 0
    if current is not None:
        print(f"this config's data set: {current['id']}{_paths(current)}")
    if stored.empty:
        print(f"no labels added yet ({labels.labels_dir()} has no label files)")
        return 0
    for group in groups:
        if group["id"] == labels.UNASSIGNED:
            print(
                f"\nno data set ({group['labels']} labels stored before labels were kept per data set; no run uses "
                f"them): assign them with `fewlabel labels move --from {labels.UNASSIGNED} --to DATASET`"
            )
        else:
            print(f"\ndata set {group['id']}{_paths(group)}: {group['labels']} labels")
        for f in group["files"]:
            per = ", ".join(f"{k} {v}" for k, v in f["per_class"].items())
            moved = f"  (given for {f['given_for']})" if f["given_for"] not in (None, group["id"]) else ""
            when = f["when"][:19]
            print(f"  {when} UTC  {f['labels']:>5} labels ({per})  {f['how']}  {Path(f['file']).name}{moved}")
    print(f"\n{len(stored)} labels in {stored['file'].nunique()} files under {labels.labels_dir()}")
    return 0


def _paths(info: dict) -> str:
    """A data set's inputs, for a person: ``(labeled: ..., unlabeled: ...)`` for files, nothing for built-ins."""
    if info.get("source") != "files":
        return f" (source {info['source']})" if info.get("source") else ""
    return f" (labeled: {info.get('labeled_path')}, unlabeled: {info.get('unlabeled_path')})"


def cmd_labels_add(args) -> int:
    """Store the labels filled in a suggestions CSV (the CSV itself is only read), as labels of the data set
    the suggestions were drawn from (its dataset column; an older CSV without one: the --run's data set)."""
    from fewlabel import labels, runs
    from fewlabel.suggestions import classes_of, dataset_of

    frame = labels.read_suggestions(args.csv)
    record = runs.read_run(check_run(args.run))
    labels.check_known(frame["label"], classes_of(record), args.csv)
    named = frame.attrs.get("dataset")
    dataset = dataset_of(record) if named is None else labels.describe(named)
    if dataset is None:
        if named not in labels.BUILT_IN:
            raise UserError(
                f"{args.csv}: its data set {named!r} is unknown to the label store ({labels.labels_dir()} has no "
                f"{named}/dataset.json); was it written by `fewlabel suggest` in another data folder?"
            )
        dataset = {"id": named, "source": named}
    path = labels.append(frame, f"file:{Path(args.csv).resolve()}", dataset)
    n = 0 if path is None else int(frame["label"].notna().sum() - (frame["label"] == labels.SKIP).sum())
    if args.json:
        print(json.dumps({"file": None if path is None else str(path), "stored": n, "dataset": dataset["id"]}))
    elif path is None:
        print(f"{args.csv}: no labels filled in; nothing stored")
    else:
        print(f"stored {n} labels for data set {dataset['id']} in {path}; the next run on that data set reads them")
    return 0


def cmd_labels_move(args) -> int:
    """Move (or copy) a data set's labels to another data set: the only way labels change data set."""
    from fewlabel import labels

    source = labels.check_id(args.source, "--from")
    if args.target is not None:
        target_id = labels.check_id(args.target, "--to")
        if target_id == labels.UNASSIGNED:
            raise UserError("--to unassigned: labels only move to a data set")
        target = labels.describe(target_id)
        if target is None and (args.config or args.set):
            target = labels.dataset_info(config(args).data)
            if target["id"] != target_id:
                raise UserError(f"--to {target_id}: not the data set of this config ({target['id']}); give one of them")
        if target is None and target_id in labels.BUILT_IN:
            target = {"id": target_id, "source": target_id}
        if target is None:
            raise UserError(
                f"--to {target_id}: the label store has never seen this data set; name it by its config instead "
                "(--set data.source=files --set data.labeled_path=... --set data.unlabeled_path=..., without --to)"
            )
    elif args.config or args.set:
        target = labels.dataset_info(config(args).data)
    else:
        raise UserError("fewlabel labels move: give --to DATASET, or the target's config (--config/--set)")
    done = labels.move(source, target, copy=args.copy)
    verb = "copied" if args.copy else "moved"
    if args.json:
        print(json.dumps(done))
        return 0
    print(
        f"{verb} {len(done[verb])} label files ({done['labels']} labels) from {source} to {target['id']}; the next "
        f"run on {target['id']} reads them" + ("" if args.copy else f", runs on {source} no longer do")
    )
    if done["skipped"]:
        print(f"already in {target['id']}, left alone: {', '.join(Path(p).name for p in done['skipped'])}")
    return 0


def cmd_labels_export(args) -> int:
    """One CSV of every stored label (text, label, origin, row, when, how, file)."""
    from fewlabel import labels, store

    target = check_output(args.output, args.force) if args.output else labels.labels_dir() / "export.csv"
    stored = labels.read_store()
    target.parent.mkdir(parents=True, exist_ok=True)
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
        "labels", help="the label store, per data set: list it (add, move, export)", description=cmd_labels.__doc__
    )
    with_json(with_config(labels), "the list")
    labels.set_defaults(func=cmd_labels)
    labels_sub = labels.add_subparsers(dest="labels_command", metavar="COMMAND")
    add = labels_sub.add_parser(
        "add", help="store the labels filled in a suggestions CSV", description=cmd_labels_add.__doc__
    )
    add.add_argument("csv")
    add.add_argument("--run", default="latest", help="the run whose classes the labels must be (default: latest)")
    with_json(add)
    add.set_defaults(func=cmd_labels_add)
    move = labels_sub.add_parser(
        "move",
        help="move (or --copy) a data set's labels to another data set; --from unassigned: the labels stored "
        "without one",
        description=cmd_labels_move.__doc__,
    )
    with_json(with_config(move))
    move.add_argument(
        "--from", dest="source", required=True, metavar="DATASET", help="a data set `fewlabel labels` lists"
    )
    move.add_argument(
        "--to", dest="target", metavar="DATASET", help="the data set to give them to (default: that of --config/--set)"
    )
    move.add_argument("--copy", action="store_true", help="copy: the labels then belong to both data sets")
    move.set_defaults(func=cmd_labels_move)
    export = labels_sub.add_parser(
        "export", help="write every stored label to one CSV", description=cmd_labels_export.__doc__
    )
    export.add_argument("--output", help="file to write (default: data/labels/export.csv)")
    export.add_argument("--force", action="store_true")
    with_json(export)
    export.set_defaults(func=cmd_labels_export)
