"""Compare `fewlabel suite --json` outputs (the last line of each log): per data set and N, the
pretrained arm of each run, its margin over the better baseline of the same run, and the suite's mean.

    .venv/bin/python experiments/suite_compare.py NAME=LOG [NAME=LOG ...] [--draw-std]

Reads only the printed JSON; prints Markdown.
"""

from __future__ import annotations

import json
import sys

BASELINES = ("tfidf_lr", "no_pretraining")


def load(path: str) -> dict[str, list[dict]]:
    lines = [line for line in open(path) if line.startswith('{"suite"')]
    return json.loads(lines[-1])["suite"]


def cells(suite: dict[str, list[dict]]) -> dict[tuple[str, int], dict[str, dict]]:
    out: dict[tuple[str, int], dict[str, dict]] = {}
    for name, rows in suite.items():
        for r in rows:
            out.setdefault((name, r["n_per_class"]), {})[r["method"]] = r
    return out


def main(argv: list[str]) -> None:
    runs = {a.split("=", 1)[0]: cells(load(a.split("=", 1)[1])) for a in argv if "=" in a}
    names = list(runs)
    keys = list(dict.fromkeys(k for run in runs.values() for k in run))
    head = "| data set | N | " + " | ".join(f"{n}: pretrained | {n}: margin" for n in names) + " |"
    print(head)
    print("|---|---:|" + "---:|---:|" * len(names))
    totals = {n: [] for n in names}
    margins = {n: [] for n in names}
    for key in keys:
        row = []
        for n in names:
            cell = runs[n].get(key)
            if not cell or "pretrained" not in cell:
                row += ["–", "–"]
                continue
            p = cell["pretrained"]
            best = max(cell[b]["mean"] for b in BASELINES if b in cell)
            totals[n].append(p["mean"])
            margins[n].append(p["mean"] - best)
            row += [f"{p['mean']:.3f} ({p['split_std']:.3f}; draws {p['draw_std']:.3f})", f"{p['mean'] - best:+.3f}"]
        print(f"| {key[0]} | {key[1]} | " + " | ".join(row) + " |")
    row = []
    for n in names:
        t, m = totals[n], margins[n]
        row += [f"{sum(t) / len(t):.4f} ({len(t)} cells)", f"{sum(m) / len(m):+.4f}"]
    print("| **mean** | | " + " | ".join(row) + " |")
    print()
    print("Baselines per run (mean over splits and draws): tfidf_lr / no_pretraining")
    for key in keys:
        parts = []
        for n in names:
            cell = runs[n].get(key, {})
            parts.append(
                f"{n}: "
                + " / ".join(
                    f"{cell[b]['mean']:.3f} ({cell[b]['split_std']:.3f})" if b in cell else "–" for b in BASELINES
                )
            )
        print(f"- {key[0]} {key[1]}: " + "; ".join(parts))


if __name__ == "__main__":
    main(sys.argv[1:])
