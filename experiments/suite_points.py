"""Summarize curve points from their artifacts (``points.parquet``), for runs split across processes
or stopped before the end: the artifacts named in the logs' "built artifact .../curve-..." lines.

    .venv/bin/python experiments/suite_points.py LOG [LOG ...]

Prints, per N and method, mean accuracy over splits and draws, the standard deviation of the
per-split means, the mean within-split standard deviation over draws, and the splits and draws
found, as ``fewlabel.learning_curve.summarize`` computes them; then the per-split means.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pandas as pd

from fewlabel.learning_curve import summarize

ORDER = ("pretrained", "pretrained_pseudo", "pretrained_labels_only", "no_pretraining", "tfidf_lr", "majority")


def main(logs: list[str]) -> None:
    found = []
    for log in logs:
        found += re.findall(r"built artifact (\S+/reports/curve-[0-9a-f]+)", Path(log).read_text())
    points = pd.concat([pd.read_parquet(Path(p) / "points.parquet") for p in dict.fromkeys(found)])
    points = points.drop_duplicates(["method", "split", "point", "draw"])
    summary = summarize(points, 2, 0.95)
    print("| N | method | mean | split std | draw std | splits | draws |")
    print("|---:|---|---:|---:|---:|---:|---:|")
    for n in sorted(summary["n_per_class"].unique(), key=int):
        part = summary[summary["n_per_class"] == n].set_index("method")
        for m in [m for m in ORDER if m in part.index]:
            r = part.loc[m]
            print(
                f"| {n} | {m} | {r['mean']:.3f} | {r['split_std']:.3f} | {r['draw_std']:.3f} | "
                f"{r['splits']} | {r['draws']} |"
            )
    print()
    per_split = points.groupby(["point", "method", "split"])["accuracy"].mean().unstack("split")
    print(per_split.round(3).to_string())


if __name__ == "__main__":
    main(sys.argv[1:])
