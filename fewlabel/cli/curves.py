"""Commands that measure: curve, suite, simulate."""

from __future__ import annotations

import argparse
import json
import sys

from fewlabel.cli.launch import launch
from fewlabel.cli.options import config, with_config, with_dask, with_json


def print_curve(summary: dict, as_json: bool) -> None:
    if as_json:
        print(json.dumps({"curve": summary["curve"], "plot": summary["plot"], "table": summary["table"]}))
    else:
        from fewlabel.report import curve_markdown

        print(curve_markdown(summary))
        print(f"plot: {summary['plot']}\ntable: {summary['table']}")


def cmd_curve(args) -> int:
    """Learning curve: accuracy against labels per class, with and without pretraining, over repeated label
    draws."""
    resolved = config(args)
    from fewlabel.dataset import check_inputs
    from fewlabel.flows.curve import curve_flow

    check_inputs(resolved.data)
    print_curve(launch(curve_flow, args, resolved), args.json)
    return 0


def cmd_suite(args) -> int:
    """The learning curve on every data set of the suite (fewlabel.suite), one table."""
    from fewlabel import suite
    from fewlabel.config import load_config

    names = suite.chosen(args.sets)
    configs = {name: load_config(args.config, suite.overrides(name, args.set or [])) for name in names}
    from fewlabel.flows.curve import curve_flow

    results = {}
    for name, resolved in configs.items():
        print(f"suite: {name}", file=sys.stderr, flush=True)
        results[name] = launch(curve_flow, args, resolved)["curve"]
    curve = next(iter(configs.values())).curve
    if args.json:
        print(json.dumps({"suite": results}))
    else:
        print(suite.suite_markdown(results, curve.splits, curve.draws))
    return 0


def cmd_simulate(args) -> int:
    """Simulated labeling: each selection strategy against random draws, round by round."""
    resolved = config(args)
    from fewlabel.flows.simulate import simulate_flow

    result = launch(simulate_flow, args, resolved)
    if args.json:
        print(json.dumps({k: result[k] for k in ("flow_run_id", "plot", "table", "summary")}))
    else:
        print(result["table_md"])
        print(f"plot: {result['plot']}\ntable: {result['table']}")
    return 0


def add_parsers(sub: argparse._SubParsersAction) -> None:
    curve = sub.add_parser(
        "curve", help="learning curve: accuracy against labels per class", description=cmd_curve.__doc__
    )
    with_json(with_dask(with_config(curve)), "the curve")
    curve.set_defaults(func=cmd_curve)

    suite = sub.add_parser(
        "suite", help="the learning curve on every data set of the suite, one table", description=cmd_suite.__doc__
    )
    with_json(with_dask(with_config(suite)), "every curve")
    suite.add_argument("--sets", nargs="+", metavar="NAME", help="only these data sets (mr nl-bol fr-amazon ...)")
    suite.set_defaults(func=cmd_suite)

    simulate = sub.add_parser(
        "simulate", help="measure selection strategies against random", description=cmd_simulate.__doc__
    )
    with_json(with_dask(with_config(simulate)), "the simulation's summary")
    simulate.set_defaults(func=cmd_simulate)
