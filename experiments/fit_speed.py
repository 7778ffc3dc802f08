"""Issue 28, the fit's speed: the train stage and the learning curve's points on cached artifacts, in CPU seconds.

    .venv/bin/python experiments/fit_speed.py prepare [--set K=V ...]
    .venv/bin/python experiments/fit_speed.py train [--set K=V ...] [--reps N]
    .venv/bin/python experiments/fit_speed.py curve [--set K=V ...] [--points 4,16,64] [--draws 10] --out F.json
    .venv/bin/python experiments/fit_speed.py compare A.json B.json

``prepare`` builds (or reuses) the pipeline's stages up to vectorize with their plain functions (no
Prefect), as ``fewlabel run`` with the same ``--set`` would. ``train`` runs the train stage's own
function on that vectorize artifact into a scratch folder, ``--reps`` times, and prints the CPU seconds
(user + sys of this process) and wall seconds of each. ``curve`` runs
:func:`fewlabel.learning_curve.point_rows` per point, as the curve stage does, and writes every
(method, draw) accuracy with each point's CPU seconds. ``compare`` prints two such files side by side:
mean ± std over draws per method and point, and the paired mean difference of the second minus the first.

To measure the code of another commit on the same artifacts, install it apart and put it first on the
path: ``git archive C | tar -x -C /tmp/c && .venv/bin/python -m pip install --no-deps --target
bench/out/base-C /tmp/c``, then ``PYTHONPATH=bench/out/base-C .venv/bin/python experiments/fit_speed.py ...``
(the stages' cache keys hash their source, so unchanged stages share the artifacts).
Choose only with ``--set data.development=true`` (the test split is set aside, a development split is scored).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import resource
import tempfile
import time
from pathlib import Path

import numpy as np


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def build_refs(sets: list[str]) -> tuple[dict, object]:
    """The Refs of every stage up to vectorize (built or reused) and the config."""
    from fewlabel.config import load_config
    from fewlabel.flows.train import PIPELINE

    config = load_config(None, sets)
    refs = {}
    for wiring in PIPELINE:
        if wiring.name == "train":
            break
        built = [wiring.task.fn(**call) for call in wiring.calls(refs, config).values()]
        refs[wiring.name] = built if wiring.each else built[0]
    return refs, config


def cmd_prepare(args) -> None:
    refs, _ = build_refs(args.set)
    print(json.dumps({name: ref["path"] for name, ref in refs.items() if isinstance(ref, dict)}))


def cmd_train(args) -> None:
    from fewlabel.tasks.train import train

    refs, config = build_refs(args.set)
    build = train.fn.__wrapped__  # the stage's own function, not the cached task
    runs = []
    for rep in range(args.reps):
        with tempfile.TemporaryDirectory() as out:
            c, w = cpu(), time.perf_counter()
            stats = build(Path(out), vectorize=refs["vectorize"], config=config.classifier)
            runs.append({"cpu_seconds": cpu() - c, "seconds": time.perf_counter() - w})
            runs[-1]["models"] = {
                path.name: hashlib.sha256(path.read_bytes()).hexdigest()[:16]
                for path in sorted(Path(out).glob("*.skops"))
            }
            print(json.dumps({"rep": rep, **runs[-1]}), flush=True)
    summary = {
        key: {"min": min(r[key] for r in runs), "median": float(np.median([r[key] for r in runs]))}
        for key in ("cpu_seconds", "seconds")
    }
    print(json.dumps({"runs": runs, **summary, "stats": stats}, default=str))


def patch_mlp(settings: list[str]) -> dict:
    """Extra MLPClassifier parameters for every fit (``--mlp n_iter_no_change=5``): a lever tried before it
    becomes a setting (fewlabel.model.make_classifier is wrapped)."""
    from fewlabel import model
    from fewlabel.config import load_yaml

    extra = {key: load_yaml(value) for key, value in (item.split("=", 1) for item in settings)}
    if extra:
        make = model.make_classifier

        def patched(config):
            pipeline = make(config)
            pipeline[-1].set_params(**extra)
            return pipeline

        model.make_classifier = patched
    return extra


def cmd_curve(args) -> None:
    from fewlabel.learning_curve import point_rows
    from fewlabel.specs import CurvePoint

    extra = patch_mlp(args.mlp)
    refs, config = build_refs(args.set)
    out = {"sets": args.set, "mlp": extra, "points": {}}
    for n in [p if p == "all" else int(p) for p in args.points.split(",")]:
        c, w = cpu(), time.perf_counter()
        point = CurvePoint.of(n, config).model_copy(update={"draws": args.draws, "spreading": False})
        table, counts = point_rows(features=refs["vectorize"], tokens=refs["preprocess"], point=point)
        seconds = {"cpu_seconds": cpu() - c, "seconds": time.perf_counter() - w}
        out["points"][str(n)] = {**seconds, "counts": counts, "rows": table.to_pylist()}
        means = {m: np.mean([r["accuracy"] for r in table.to_pylist() if r["method"] == m]) for m in METHOD_ORDER}
        print(json.dumps({"point": n, **seconds, **{m: round(v, 4) for m, v in means.items() if v == v}}), flush=True)
    Path(args.out).write_text(json.dumps(out))


METHOD_ORDER = ("pretrained", "pretrained_pseudo", "pretrained_labels_only", "no_pretraining", "tfidf_lr", "majority")


def cmd_compare(args) -> None:
    a, b = (json.loads(Path(p).read_text()) for p in (args.first, args.second))
    print(f"| N | method | {args.first} | {args.second} | paired difference |")
    print("|---:|---|---:|---:|---:|")
    for point in a["points"]:
        if point not in b["points"]:
            continue
        rows_a = {(r["method"], r["draw"]): r["accuracy"] for r in a["points"][point]["rows"]}
        rows_b = {(r["method"], r["draw"]): r["accuracy"] for r in b["points"][point]["rows"]}
        for method in METHOD_ORDER:
            draws = sorted(d for m, d in rows_a if m == method and (m, d) in rows_b)
            if not draws:
                continue
            va = np.array([rows_a[method, d] for d in draws])
            vb = np.array([rows_b[method, d] for d in draws])
            diff = vb - va
            print(
                f"| {point} | {method} | {va.mean():.4f} ± {va.std(ddof=1):.4f} | {vb.mean():.4f} ± "
                f"{vb.std(ddof=1):.4f} | {diff.mean() * 100:+.2f} ± {diff.std(ddof=1) * 100:.2f} pts |"
            )
        print(
            f"| {point} | CPU s | {a['points'][point]['cpu_seconds']:.0f} | {b['points'][point]['cpu_seconds']:.0f} | |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("prepare", "train", "curve"):
        p = sub.add_parser(name)
        p.add_argument("--set", action="append", default=[], help="config override, as fewlabel's --set")
        if name == "train":
            p.add_argument("--reps", type=int, default=1)
        if name == "curve":
            p.add_argument("--points", default="4,16,64")
            p.add_argument("--draws", type=int, default=10)
            p.add_argument("--out", required=True)
            p.add_argument("--mlp", action="append", default=[], help="extra MLPClassifier parameter, KEY=VALUE")
    p = sub.add_parser("compare")
    p.add_argument("first")
    p.add_argument("second")
    args = parser.parse_args()
    {"prepare": cmd_prepare, "train": cmd_train, "curve": cmd_curve, "compare": cmd_compare}[args.command](args)


if __name__ == "__main__":
    main()
