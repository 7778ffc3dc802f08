"""Human-readable views of a run: markdown for reports and the Prefect UI, text for the terminal."""

from __future__ import annotations

from pathlib import Path
from typing import Any

METHOD_NAMES = {
    "pretrained": "pretrained Word2Vec + {classifier}",
    "no_pretraining": "no pretraining (Word2Vec on the labeled sentences only) + {classifier}",
    "tfidf_lr": "TF-IDF + logistic regression (the words alone, no unlabeled text)",
    "majority": "majority class",
}
"""The run's methods as reports name them, with the configured classifier kind's title
(:func:`fewlabel.classifiers.title`: "MLP", "logistic regression")."""


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def ordered(methods: dict) -> list[tuple[str, dict]]:
    """Methods in report order: pretrained first, then the baselines."""
    return sorted(methods.items(), key=lambda kv: list(METHOD_NAMES).index(kv[0]))


def metrics_rows(metrics: dict) -> list[dict[str, Any]]:
    return [
        {
            "method": m,
            "accuracy": round(v["accuracy"], 4),
            "macro_f1": round(v["macro_f1"], 4),
            "accuracy_ci_low": round(v["accuracy_ci"][0], 4),
            "accuracy_ci_high": round(v["accuracy_ci"][1], 4),
            "test_sentences": v["n"],
        }
        for m, v in ordered(metrics["methods"])
    ]


def metrics_markdown(metrics: dict, classifier: str) -> str:
    """The test metrics as a markdown table, the methods named with the classifier's title ``classifier``."""
    level = _pct(metrics["confidence"])
    lines = [
        f"| method | accuracy | {level} interval | macro-F1 |",
        "|---|---:|---:|---:|",
    ]
    for method, v in ordered(metrics["methods"]):
        low, high = v["accuracy_ci"]
        name = METHOD_NAMES[method].format(classifier=classifier)
        lines.append(f"| {name} | {_pct(v['accuracy'])} | {_pct(low)} – {_pct(high)} | {v['macro_f1']:.3f} |")
    gain = metrics["pretraining_vs_none"]
    low, high = gain["ci"]
    n = next(iter(metrics["methods"].values()))["n"]
    lines += [
        "",
        f"Pretraining changed test accuracy by **{100 * gain['accuracy_gain']:+.1f} points** "
        f"({level} paired-bootstrap interval {100 * low:+.1f} to {100 * high:+.1f}; "
        f"exact McNemar p = {gain['mcnemar_p']:.3g}) on {n} test sentences.",
    ]
    if "pretrained_vs_lexical" in metrics:
        lines += ["", lexical_line(metrics["pretrained_vs_lexical"], metrics["confidence"])]
    return "\n".join(lines) + "\n"


def lexical_line(gain: dict, confidence: float) -> str:
    """What the report says of the pretrained model against TF-IDF + LR: a warning when the words alone
    did better beyond doubt at the report's ``confidence`` by both measures (the paired-bootstrap
    interval of the difference lies below zero, and McNemar's exact p is below 1 - confidence)."""
    points, (low, high), level = 100 * gain["accuracy_gain"], gain["ci"], _pct(confidence)
    against = (
        f"{points:+.1f} points ({level} paired-bootstrap interval {100 * low:+.1f} to {100 * high:+.1f}; "
        f"exact McNemar p = {gain['mcnemar_p']:.3g})"
    )
    if high < 0 and gain["mcnemar_p"] < 1 - confidence:
        return (
            f"**Warning: TF-IDF + logistic regression did better than the pretrained model**: {against}. "
            "This task's signal may sit in words that averaged word vectors blur (function words such as "
            '"may" or "whether", rare terms), or the unlabeled text is too small or off-domain for Word2Vec; '
            "compare them over label counts with `fewlabel curve` (docs/guide/curves.md)."
        )
    return f"Against TF-IDF + logistic regression (the words alone), the pretrained model: {against}."


def _split(pretrain: dict) -> str:
    """How many sentences were too long for gensim and were cut into pieces (none: nothing)."""
    long = pretrain.get("long_sentences_split", 0)
    return f" ({long} sentences over 10,000 tokens cut into pieces, every token trained)" if long else ""


def _artifact(summary: dict, stage: str) -> str:
    where = summary["artifacts"][stage]
    return f"{len(where)} shards (below)" if isinstance(where, list) else where


def _unlabeled(summary: dict) -> str:
    """The unlabeled text's size: texts of the ingest table plus the lines of every shard."""
    ing, shards = summary["stats"]["ingest"], summary["stats"].get("shard", [])
    text = f"{ing['unlabeled_rows']} texts"
    if shards:
        text += f" + {sum(s['rows'] for s in shards)} lines in {len(shards)} shards"
    return text


def no_unlabeled_line(summary: dict) -> str | None:
    """What a run without any unlabeled text says (None when it had some): its Word2Vec saw only the
    labeled training sentences, as the arm without pretraining does, so it cannot show what unlabeled
    text buys."""
    if summary["stats"]["ingest"]["unlabeled_rows"] or summary["stats"].get("shard"):
        return None
    return (
        "no unlabeled text: Word2Vec saw only the labeled training sentences, as it does without pretraining, "
        "so this run cannot show what unlabeled text buys; give some with data.unlabeled_path (or "
        "data.extra_unlabeled, built-in English corpora)"
    )


def shards_markdown(summary: dict) -> list[str]:
    """Which shards of the unlabeled corpus were reused (Cached) and which were processed."""
    items = summary.get("shards") or []
    if not items:
        return []
    stats = {s["file"]: s for s in summary["stats"].get("shard", [])}
    reused = sum(item["state"] == "Cached" for item in items)
    lines = [
        "",
        "## Unlabeled shards",
        f"{reused} of {len(items)} reused from the cache.",
        "",
        "| shard | state | lines | tokens | equal to a test sentence, removed |",
        "|---|---|---:|---:|---:|",
    ]
    for item in items:
        st = stats.get(item["item"], {})
        lines.append(
            f"| {item['item']} | {item['state']} | {st.get('rows', '')} | {st.get('tokens', '')} | "
            f"{st.get('unlabeled_equal_to_test_removed', '')} |"
        )
    return lines


def pseudo_line(stats: dict, classifier: str) -> str:
    """What document pseudo-labels did in the pretrained arm's fit (train stage stats; ``classifier``: the
    classifier's title)."""
    sample = stats.get("vectorize", {}).get("unlabeled_sample", {})
    record = stats.get("train", {}).get("pretrained", {}).get("pseudo_labels")
    if not record:
        return "document pseudo-labels: none recorded"
    if record.get("skipped"):
        return f"document pseudo-labels: {record['skipped']}"
    if not record["documents"]:
        return (
            f"document pseudo-labels: none ({record.get('eligible_documents', 0)} of "
            f"{sample.get('documents', '?')} sampled documents long enough, or turned off)"
        )
    per_class = ", ".join(f"{c} {n}" for c, n in record["per_class"].items())
    line = (
        f"document pseudo-labels: {record['documents']} of {sample.get('documents', '?')} sampled unlabeled "
        f"documents ({per_class}; {record['lines']} lines), {record['rounds']} rounds, "
        f"{record['weight']:.1%} of the pretrained arm's vote"
    )
    check = record.get("safeguard")
    if check:
        used = "used" if record.get("used") else f"NOT used: the model is the labels-only {classifier}"
        line += f"; {used} (safeguard: {check['reason']})"
    return line


def label_store_line(stats: dict) -> str | None:
    """What the label store gave this run: its data set's labels, and the labels without a data set it did not
    use (with the command that assigns them). None when the store gave nothing and holds no such labels."""
    store = stats.get("ingest", {}).get("label_store") or {}
    dataset, ignored = store.get("dataset"), store.get("unassigned_ignored", 0)
    if not store.get("store_rows") and not ignored:
        return None
    line = f"label store (data set {dataset}): {store.get('added', 0)} of its {store.get('store_rows', 0)} labels added"
    if store.get("in_test"):
        line += f", {store['in_test']} left out (test sentences)"
    if ignored:
        line += (
            f"; {ignored} labels without a data set NOT used: assign them with "
            f"`fewlabel labels move --from unassigned --to {dataset}`"
        )
    return line


def damaged_line(stats: dict) -> str | None:
    """What ``data.damaged_text`` dropped from the labeled files and the unlabeled shards (None: nothing)."""
    parts = [("labeled", stats.get("ingest", {}).get("damaged_text"))]
    parts += [(f"unlabeled {s.get('file', '')}".strip(), s.get("damaged_text")) for s in stats.get("shard", [])]
    parts = [(where, d) for where, d in parts if d and d.get("replacement_characters")]
    if not parts:
        return None
    setting = parts[0][1]["setting"]
    said = []
    for where, d in parts:
        if setting == "drop_lines":
            said.append(f"{where}: {d['lines_dropped']} lines holding U+FFFD left out")
        else:
            emptied = f", {d['lines_dropped']} lines left empty and left out" if d["lines_dropped"] else ""
            said.append(f"{where}: {d['characters_dropped']} U+FFFD removed from {d['lines_with_them']} lines{emptied}")
    return f"damaged text (data.damaged_text={setting}): " + "; ".join(said)


def run_markdown(summary: dict, metrics: dict) -> str:
    """The run report: data sizes, vocabulary, out-of-vocabulary share, metrics, artifact locations."""
    st = summary["stats"]
    ing, pre, vec = st["ingest"], st["pretrain"], st["vectorize"]
    lines = [
        f"# fewlabel run {summary['flow_run_id']}",
        "",
        "## Data",
        f"- labeled: {ing['train_rows']} training sentences {ing['train_per_class']}, "
        f"{ing['test_rows']} test sentences {ing['test_per_class']}",
        f"- unlabeled: {_unlabeled(summary)} ({ing['pooled_from_labeled']} of them unused training "
        f"sentences, labels dropped; {ing['unlabeled_equal_to_test_removed']} identical to a test sentence removed)",
        f"- pretraining corpus: {pre['corpus_sentences']} sentences, {pre['corpus_words']} words{_split(pre)}; "
        f"vocabulary {pre['vocabulary']} words (without pretraining: {pre['baseline_vocabulary']})",
        f"- out-of-vocabulary share of test tokens: {_pct(vec['test_pretrained']['oov_share'])} pretrained, "
        f"{_pct(vec['test_no_pretraining']['oov_share'])} without; test sentences with no known word: "
        f"{vec['test_pretrained']['zero_vectors']} and {vec['test_no_pretraining']['zero_vectors']}",
        *([f"- {damaged_line(st)}"] if damaged_line(st) else []),
        *([f"- {label_store_line(st)}"] if label_store_line(st) else []),
        *([f"- {no_unlabeled_line(summary)}"] if no_unlabeled_line(summary) else []),
        f"- {pseudo_line(st, summary['classifier'])}",
        "",
        "## Test metrics",
        metrics_markdown(metrics, summary["classifier"]),
        "## Stages",
        "| stage | state | artifact |",
        "|---|---|---|",
        *[f"| {s} | {summary['stages'][s]} | `{_artifact(summary, s)}` |" for s in summary["stages"]],
        *shards_markdown(summary),
    ]
    return "\n".join(lines) + "\n"


def run_text(summary: dict) -> str:
    """The terminal summary after `fewlabel run`."""
    st = summary["stats"]
    ing, pre = st["ingest"], st["pretrain"]
    width = max(map(len, summary["stages"]))
    out = ["", "stages:"]
    out += [f"  {s:<{width}}  {state:<9}  {_artifact(summary, s)}" for s, state in summary["stages"].items()]
    items = summary.get("shards") or []
    out += [f"    {item['item']}: {item['state']}" for item in items]
    out += [
        "",
        f"data: {ing['train_rows']} training labels {ing['train_per_class']}, {ing['test_rows']} test sentences, "
        f"unlabeled {_unlabeled(summary)}",
        *([damaged_line(st)] if damaged_line(st) else []),
        *([label_store_line(st)] if label_store_line(st) else []),
        *([no_unlabeled_line(summary)] if no_unlabeled_line(summary) else []),
        f"word2vec: {pre['corpus_words']} words{_split(pre)}, vocabulary {pre['vocabulary']} "
        f"(without pretraining: {pre['baseline_vocabulary']})",
        f"test OOV share: {_pct(st['vectorize']['test_pretrained']['oov_share'])} pretrained, "
        f"{_pct(st['vectorize']['test_no_pretraining']['oov_share'])} without",
        pseudo_line(st, summary["classifier"]),
        "",
        metrics_markdown(summary["metrics_detail"], summary["classifier"]),
        f"report: {summary['report']}",
    ]
    return "\n".join(out)


def curve_markdown(summary: dict) -> str:
    """The learning curve as a markdown table: mean accuracy [interval] per method and point."""
    rows = summary["curve"]
    points = list(dict.fromkeys(str(r["n_per_class"]) for r in rows))
    methods = list(dict.fromkeys(r["method"] for r in rows))
    cell = {(r["method"], str(r["n_per_class"])): r for r in rows}
    lines = ["| method | " + " | ".join(points) + " |", "|---|" + "---:|" * len(points)]
    for m in methods:
        values = [cell.get((m, p)) for p in points]
        lines.append(
            f"| {m} | "
            + " | ".join(
                f"{100 * v['mean']:.1f} [{100 * v['ci_low']:.1f}, {100 * v['ci_high']:.1f}]" if v else "–"
                for v in values
            )
            + " |"
        )
    draws = max(r["draws"] for r in rows) if rows else 0
    splits = max(r.get("splits", 1) for r in rows) if rows else 1
    level = summary.get("confidence", 0.95)
    note = f"Mean test accuracy (%) over {draws} label draws per point, with {level:.0%} t-intervals."
    if splits > 1:
        note = (
            f"Mean test accuracy (%) over {splits} test splits x {draws // splits} label draws per point, with "
            f"{level:.0%} t-intervals over all of them; last column: standard deviation of the per-split means."
        )
        lines[0] += " std of split means |"
        lines[1] += "---|"
        for i, m in enumerate(methods):
            values = [cell.get((m, p)) for p in points]
            lines[2 + i] += " " + " / ".join(f"{100 * v['split_std']:.1f}" if v else "–" for v in values) + " |"
    kept = summary.get("pseudo_kept_draws") or {}
    if kept and "pretrained_pseudo" in methods:
        note += (
            " Pseudo-label safeguard (the pretrained arm's own check on its training labels): kept in "
            + ", ".join(f"{n} (split:point {k})" for k, n in kept.items())
            + " draws."
        )
    if summary["skipped"]:
        note += f" Skipped (not enough labels): {', '.join(summary['skipped'])}."
    note += _lexical_ahead(cell, points)
    return "\n".join(["# fewlabel learning curve", "", note, "", *lines, ""])


def _lexical_ahead(cell: dict, points: list[str]) -> str:
    """The curve's note where TF-IDF + LR's mean is above the pretrained pipeline's (none: nothing)."""
    ahead = [
        (p, cell[("tfidf_lr", p)]["mean"] - cell[("pretrained", p)]["mean"])
        for p in points
        if ("tfidf_lr", p) in cell and ("pretrained", p) in cell
    ]
    ahead = [(p, gap) for p, gap in ahead if gap > 0]
    if not ahead:
        return ""
    return (
        " **TF-IDF + logistic regression's mean is above the pretrained pipeline's** at "
        + ", ".join(f"{p} ({100 * gap:+.1f} points)" for p, gap in ahead)
        + " labels per class: there, on this data, the words alone did better."
    )


def lineage_markdown(record: dict) -> str:
    """The run's lineage: the software that made it, and per stage its artifact hash, inputs and row counts."""
    code = record["software"]
    lines = [
        f"# Lineage of run {record['flow_run_id']}",
        "",
        f"fewlabel {code['fewlabel']}, commit `{code['git_commit'] or 'unknown'}`"
        + (" (with uncommitted changes)" if code["git_modified"] else ""),
        "",
        "| stage | state | artifact | sha256 | inputs | files | counts |",
        "|---|---|---|---|---|---|---|",
    ]
    for stage, entry in record["lineage"].items():
        mapped = isinstance(entry, list)
        for item in entry if mapped else [entry]:
            name = f"{stage} {item['stats'].get('file', '')}" if mapped else stage
            lines.append(_lineage_row(name, record["stages"].get(stage, ""), item))
    return "\n".join(lines) + "\n"


def _lineage_row(name: str, state: str, item: dict) -> str:
    """One stage's row: short hashes of what it read, at most three input files named (the table must
    read at normal width; the run record holds every hash in full)."""
    inputs = ", ".join(
        f"{key} `{value['sha256'][:8]}`" if isinstance(value, dict) and "sha256" in value else key
        for key, value in (item["inputs"] or {}).items()
    )
    files = [f"{Path(p).name} `{h[:8]}`" for p, h in (item["source_files"] or {}).items()]
    if len(files) > 3:
        files = [*files[:3], f"and {len(files) - 3} more"]
    counts = ", ".join(f"{k}={v}" for k, v in item["stats"].items() if isinstance(v, int))
    return (
        f"| {name} | {state} | `{item['path']}` | `{item['sha256'][:8]}` | {inputs} | {', '.join(files)} | {counts} |"
    )
