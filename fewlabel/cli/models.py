"""Commands for models: predict, models, promote, rollback."""

from __future__ import annotations

import argparse
import json
import sys

from fewlabel.cli.exits import one_line
from fewlabel.cli.launch import launch
from fewlabel.cli.options import check_output, check_run, copy_atomically, encoding, with_dask, with_json
from fewlabel.encodings import DAMAGED_TEXT
from fewlabel.errors import UserError


def cmd_predict(args) -> int:
    """Classify new texts with a trained run's model (the production model by default)."""
    from fewlabel.readers import input_files

    run = check_run(args.run)
    input_files(args.input, "input")  # a missing file, a named pipe...: refused before any work
    target = check_output(args.output, args.force) if args.output else None
    from fewlabel.registry import resolve

    resolve(run)  # a missing or unfinished run, or an alias that does not verify: refused before any work
    from fewlabel.flows.predict import predict_flow

    result = launch(
        predict_flow,
        args,
        input_path=args.input,
        run=run,
        text_column=args.text_column,
        encoding=args.encoding,
        damaged_text=args.damaged_text,
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
        return 0
    print(f"{result['rows']} predictions written to {result['output']} (model: run {result['run_id']})")
    print("predicted labels: " + ", ".join(f"{k} {v}" for k, v in result["predicted"].items()))
    if result.get("blank_lines"):
        print(f"blank lines skipped: {result['blank_lines']}")
    _print_damaged(result.get("damaged_text"))
    if result.get("no_known_word"):
        print(
            f"texts with no word the model knows: {result['no_known_word']} (their label is a guess: "
            "known_words = 0 in the output)"
        )
    return 0


def _print_damaged(damaged: dict | None) -> None:
    """What --damaged-text dropped from the input files (nothing: no line)."""
    if not damaged or not damaged.get("replacement_characters"):
        return
    if damaged["setting"] == "drop_lines":
        print(f"damaged text: {damaged['lines_dropped']} lines holding U+FFFD left out (--damaged-text drop_lines)")
    else:
        print(
            f"damaged text: {damaged['characters_dropped']} U+FFFD removed from {damaged['lines_with_them']} lines"
            + (f", {damaged['lines_dropped']} lines left empty and left out" if damaged["lines_dropped"] else "")
            + " (--damaged-text drop_characters)"
        )


def cmd_models(args) -> int:
    """List the model versions (one per model: runs that reused a model share its version) and the aliases
    naming them."""
    from fewlabel import registry

    versions, alias_error = registry.versions()
    if alias_error:
        print(f"warning: {one_line(alias_error)}", file=sys.stderr)
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

    print(_alias_line(registry.rollback(reason=args.reason or "")))
    return 0


def add_parsers(sub: argparse._SubParsersAction) -> None:
    predict = sub.add_parser("predict", help="classify new texts with a trained run", description=cmd_predict.__doc__)
    with_json(with_dask(predict))
    predict.add_argument("input", help="CSV, TSV, Parquet or .txt (one text per line), or a folder of them")
    predict.add_argument("--output", help="also copy the predictions (data/predictions/<input>.parquet) to this file")
    predict.add_argument("--force", action="store_true", help="overwrite the --output file if it exists")
    predict.add_argument(
        "--run",
        default="production",
        help="production, latest, a flow-run id or a run record file (.json) (default: production; "
        "the latest run until a model is promoted)",
    )
    predict.add_argument("--text-column", default="text")
    predict.add_argument(
        "--encoding",
        type=encoding,
        default="utf-8",
        help="encoding of the input files (default utf-8; a byte-order mark always wins)",
    )
    predict.add_argument(
        "--damaged-text",
        choices=list(DAMAGED_TEXT),
        default="refuse",
        help="input holding replacement characters U+FFFD: "
        + "; ".join(f"{name}: {what}" for name, what in DAMAGED_TEXT.items())
        + " (default refuse; what is dropped is counted in the output)",
    )
    predict.set_defaults(func=cmd_predict)

    models = sub.add_parser(
        "models",
        help="list model versions (one per model, whatever runs reused it) and their aliases",
        description=cmd_models.__doc__,
    )
    with_json(models, "the versions")
    models.set_defaults(func=cmd_models)

    promote = sub.add_parser(
        "promote", help="point the production alias at a training run (by hand)", description=cmd_promote.__doc__
    )
    promote.add_argument("run", metavar="RUN", help="flow-run id of a training run, or latest")
    promote.add_argument("--reason", help="why (recorded with who and when)")
    promote.set_defaults(func=cmd_promote)

    rollback = sub.add_parser(
        "rollback",
        help="point the production alias back at the model it named before",
        description=cmd_rollback.__doc__,
    )
    rollback.add_argument("--reason", help="why (recorded with who and when)")
    rollback.set_defaults(func=cmd_rollback)
