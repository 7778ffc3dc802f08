"""The benchmark harness of "Fast at every size": `make bench` and `make bench-quick`.

    .venv/bin/python bench/run.py [--quick] [--out bench/latest.json]
    BENCH_SIZES=100k,1m,5m .venv/bin/python bench/run.py        # other synthetic sizes

Measures, in one run, side by side:

1. End to end (MR; `tiny` with --quick): whole processes, alternated: `bench/bare.py` (the same
   stages on gensim + scikit-learn, no Prefect, no Parquet), a cold `fewlabel run --json` (fresh
   FEWLABEL_DATA_DIR and cache records) and a warm one (the same data folder again: every stage
   Cached). The flow runs report to one local `prefect server` started for the whole bench (its
   start time is reported apart). Medians of wall time; peak RSS of each process (os.wait4).
   Then the train stage at the classifier's defaults on the last cold run's vectorize artifact: the code
   of issue 28's starting commit (FIT_BASE, installed apart under bench/out/base-<commit>) and of this
   tree, each in its own process (`train.fn.__wrapped__`: no cache), alternated; CPU seconds (user +
   sys, every thread) and wall seconds of the call, min and median, the ratios of the medians, and
   whether both wrote the same model bytes.
2. Per stage on synthetic corpora (bench/synth.py): preprocess tokens/s (fewlabel.text.tokenize),
   vectorize sentences/s like for like (fewlabel.vectors.average against the plain per-sentence loop;
   sentence_vectors with the default sif weighting and common component against a loop doing the same
   weighting and projection), per core (threads=1, BLAS on one thread) and on every core, min / median
   / max over reps of each rep's ratio against its own loop. The vectorized side gets the tokens as the
   vectorize stage does: written as preprocess writes them, read batch by batch dictionary-encoded
   (fewlabel.store.parquet_batches); from in-memory string lists (as predict) it is timed too, for
   information, and both reads are timed. The default path (the common component fitted on the
   corpus as the vectorize stage fits it, then removed) with its component fit timed apart, and the
   vectorize stage itself (its ``.fn``, default config, on n synthetic unlabeled lines) with the
   component fits inside it (goal: at most half of the stage's time); predict
   sentences/s (fewlabel.predictor.Classifier with the end-to-end run's record), and the growth exponent
   of time with size between sizes (1.0 = linear); pretrain words/s of fewlabel.word2vec.fit_word2vec
   against raw gensim Word2Vec with identical params on the same token lists, and in corpus_file
   mode (each run in a fresh process, as the stage runs it), with 1 and 2 workers, each as many
   times (alternated, min / median / max of the ratio).
3. Memory at the largest size: the real flow on data.source=files (the synthetic corpus as unlabeled
   text, 200 labeled synthetic sentences, a fixed synthetic test set of the same size so that
   vectorize and evaluate also see it; word2vec.epochs=1, evaluate.bootstrap=0), as a whole
   process; then each stage's ``.fn`` in its own process (inputs built by the previous ones) and
   `fewlabel predict` on the corpus. ``peak_rss_mib_<size>`` is the largest peak RSS of the
   streaming stages' processes (shard, preprocess, vectorize, predict).

Child processes of this script (``--child KIND``) do the in-process measurements, so that each
starts with a clean heap and its ru_maxrss is its own.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import functools
import json
import math
import os
import platform
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / ".venv" / "bin"
PY = str(BIN / "python")
WORK = ROOT / "bench" / "out"
STAGES = ("ingest", "preprocess", "pretrain", "vectorize", "train", "evaluate")
STREAMING = ("shard", "preprocess", "vectorize", "predict")
"""The stages that tokenize, vectorize or classify the 1M sentences (shard: the unlabeled file)."""
GOALS = {
    "cold_vs_bare": ("<=", 1.15),  # the median of the pairs' ratios (see end_to_end)
    "train_cpu_vs_before": ("<=", 0.2),  # issue 28: the train stage's CPU seconds against FIT_BASE's (see fit_speed)
    "warm_vs_cold": ("<=", 0.15),
    "pretrain_vs_gensim": (">=", 0.9),
    "vectorize_vs_loop_per_core": (">=", 10.0),
    "vectorize_vs_loop": (">=", 10.0),
}
"""vectorize_vs_loop(_per_core): the smallest ratio over sizes, repetitions and the two kinds (plain mean
against the plain loop; sif + component removal against the loop doing the same), per core (one
thread each) and on the whole machine, with the tokens as the vectorize stage reads them."""
FIT_BASE = "d958c57"
"""Issue 28's starting commit: the train stage "before" (``BENCH_FIT_BASE`` names another commit)."""


def fmt(spread: dict) -> str:
    return f"{spread['min']:.1f} / {spread['median']:.1f} / {spread['max']:.1f}x"


def fmt_share(spread: dict) -> str:
    return f"{spread['min']:.2f} / {spread['median']:.2f} / {spread['max']:.2f}"


def say(*parts, end: str = "\n") -> None:
    print(*parts, end=end, flush=True)


def size_label(n: int) -> str:
    return f"{n // 1_000_000}m" if n % 1_000_000 == 0 else f"{n // 1000}k" if n % 1000 == 0 else str(n)


def parse_size(text: str) -> int:
    text = text.strip().lower()
    scale = {"k": 1_000, "m": 1_000_000}.get(text[-1], 1)
    return int(float(text.rstrip("km")) * scale)


# ---------------------------------------------------------------- whole processes


def measure(cmd: list[str], env: dict, log: Path) -> dict:
    """Run ``cmd`` to completion: wall seconds, peak RSS (MiB) of the process, exit code, stdout."""
    with open(log.with_suffix(".out"), "w") as out, open(log.with_suffix(".err"), "w") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    stdout = log.with_suffix(".out").read_text()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}:\n{log.with_suffix('.err').read_text()[-3000:]}")
    cpu = usage.ru_utime + usage.ru_stime
    return {"seconds": seconds, "cpu_seconds": cpu, "rss_mib": usage.ru_maxrss / 1024, "stdout": stdout}


def last_json(stdout: str) -> dict:
    return json.loads(stdout.strip().splitlines()[-1])


def fresh_data_dir(path: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    (path / "external").symlink_to(ROOT / "data" / "external")  # the MR archive, read in place
    return path


def flow_env(data: Path, api_url: str) -> dict:
    return {
        **os.environ,
        "FEWLABEL_DATA_DIR": str(data),
        "PREFECT_LOCAL_STORAGE_PATH": str(data / ".prefect-records"),
        "PREFECT_API_URL": api_url,
        "PREFECT_HOME": str(WORK / "prefect-client"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    }


def end_to_end(sets: list[str], pairs: int, api_url: str) -> dict:
    """Pairs of (bare, cold, warm) whole processes, side by side; the order alternates (bare first in odd
    pairs, the flow first in even ones), so that a machine slowing down or warming up over the minutes
    of a pair weighs on both sides alike. cold_vs_bare is the median of the pairs' ratios (each cold
    against the bare of its own pair), printed with their min and max; the ratio of the medians too."""
    overrides = [arg for s in sets for arg in ("--set", s)]
    bare_env = {**os.environ, "FEWLABEL_DATA_DIR": str(fresh_data_dir(WORK / "e2e-bare"))}
    runs = {"bare": [], "cold": [], "warm": []}
    metrics = {}

    def bare(i: int) -> str:
        r = measure([PY, "bench/bare.py", "--json", *overrides], bare_env, WORK / f"e2e-bare-{i}")
        metrics["bare"] = last_json(r["stdout"])["metrics"]
        runs["bare"].append(r)
        return f"bare {r['seconds']:.1f} s ({r['rss_mib']:.0f} MiB, CPU {r['cpu_seconds']:.0f} s)"

    def flow(i: int) -> str:
        data = fresh_data_dir(WORK / f"e2e-cold-{i}")
        env = flow_env(data, api_url)
        said = []
        for kind, expected in (("cold", "Completed"), ("warm", "Cached")):
            r = measure([str(BIN / "fewlabel"), "run", "--json", *overrides], env, WORK / f"e2e-{kind}-{i}")
            summary = last_json(r["stdout"])
            states = set(summary["stages"].values())
            if states != {expected}:
                raise RuntimeError(f"{kind} run: stages {summary['stages']}, expected all {expected}")
            metrics["flow"], r["record"] = summary["metrics"], summary["run_record"]
            runs[kind].append(r)
            said.append(f"{kind} {r['seconds']:.1f} s ({r['rss_mib']:.0f} MiB, CPU {r['cpu_seconds']:.0f} s)")
        return ", ".join(said)

    for i in range(pairs):
        order = (bare, flow) if i % 2 == 0 else (flow, bare)
        said = [side(i) for side in order]
        ratio = runs["cold"][i]["seconds"] / runs["bare"][i]["seconds"]
        say(f"  pair {i + 1}/{pairs}: {'; '.join(said)}; cold / bare {ratio:.3f}")
    med = {k: statistics.median(r["seconds"] for r in v) for k, v in runs.items()}
    ratios = [c["seconds"] / b["seconds"] for c, b in zip(runs["cold"], runs["bare"])]
    return {
        "order": "bare first in odd pairs, the flow (cold, then warm) first in even pairs",
        "seconds": {k: [round(r["seconds"], 2) for r in v] for k, v in runs.items()},
        "cpu_seconds": {k: [round(r["cpu_seconds"], 1) for r in v] for k, v in runs.items()},
        "median_seconds": {k: round(v, 2) for k, v in med.items()},
        "peak_rss_mib": {k: round(max(r["rss_mib"] for r in v), 1) for k, v in runs.items()},
        "cold_vs_bare_pairs": [round(r, 3) for r in ratios],
        "cold_vs_bare": round(statistics.median(ratios), 3),
        "cold_vs_bare_of_medians": round(med["cold"] / med["bare"], 3),
        "warm_vs_cold": round(med["warm"] / med["cold"], 3),
        "metrics": metrics,
        "same_metrics": all(
            round(metrics["bare"][m][k], 4) == round(metrics["flow"][m][k], 4)
            for m in metrics["bare"]
            for k in ("accuracy", "macro_f1")
        ),
        "record": runs["cold"][-1]["record"],
        "data_dir": str(WORK / f"e2e-cold-{pairs - 1}"),
    }


@contextlib.contextmanager
def start_server():
    """`prefect server start` on a free loopback port (home in bench/out); yields the API URL, stops it at exit."""
    home = WORK / "prefect-server"
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/api"
    env = {
        **os.environ,
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_UI_ENABLED": "false",
        "PREFECT_LOGGING_LEVEL": "WARNING",
        "PREFECT_API_URL": "",
    }
    cmd = [PY, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)]
    with open(home / "server.log", "w") as log:
        server = subprocess.Popen(cmd, cwd=home, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        while not healthy(url) and server.poll() is None:
            if time.monotonic() > deadline:
                raise TimeoutError("timed out after 180 s waiting for the Prefect server")
            time.sleep(0.5)
        if server.poll() is not None:
            raise RuntimeError(f"prefect server exited: {(home / 'server.log').read_text()[-2000:]}")
        yield url
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


# ---------------------------------------------------------------- synthetic data


def synth(rows: int, seed: int = 0) -> Path:
    """bench/out/synth-<size>[-s<seed>].parquet, generated once (bench/synth.py is deterministic)."""
    path = WORK / f"synth-{size_label(rows)}{'' if seed == 0 else f'-s{seed}'}.parquet"
    if path.exists():
        import pyarrow.parquet as pq

        if pq.ParquetFile(path).metadata.num_rows == rows:
            return path
    subprocess.run(
        [PY, "bench/synth.py", str(rows), str(path), "--seed", str(seed)],
        cwd=ROOT,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return path


def labeled_files(rows: int, folder: Path) -> tuple[Path, Path]:
    """200 labeled synthetic sentences (CSV, two labels) and a labeled test set of ``rows`` (Parquet)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder.mkdir(parents=True, exist_ok=True)
    labeled = folder / "labeled.csv"
    small = pq.read_table(synth(200, seed=1)).to_pandas()
    small["label"] = np.where(np.arange(len(small)) % 2 == 0, "pos", "neg")
    small.to_csv(labeled, index=False)
    test = folder / f"test-{size_label(rows)}.parquet"
    if not test.exists():
        text = pq.read_table(synth(rows, seed=2))["text"]
        labels = np.where(np.random.default_rng(2).random(rows) < 0.5, "pos", "neg")
        pq.write_table(pa.table({"text": text, "label": pa.array(labels, pa.string())}), test)
    return labeled, test


# ---------------------------------------------------------------- child measurements


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_throughput(args: dict) -> dict:
    """preprocess, vectorize (vs a loop) and predict on one synthetic corpus."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq
    from threadpoolctl import threadpool_limits

    from fewlabel import runs, store
    from fewlabel.config import PreprocessConfig, VectorizeConfig, Word2VecConfig
    from fewlabel.predictor import Classifier
    from fewlabel.text import TOKENS, tokenize
    from fewlabel.vectors import (
        THREADS,
        average,
        fit_common,
        fit_component,
        remove_from_means,
        sample_rows,
        sentence_vectors,
        word_weights,
    )

    texts = pq.read_table(args["corpus"])["text"].combine_chunks()
    n = len(texts)
    reps = args["reps"]
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        tokens = tokenize(texts, PreprocessConfig())
        times.append(time.perf_counter() - start)
    t_pre = statistics.median(times)
    n_tokens = len(pc.list_flatten(tokens))

    # a Word2Vec-sized embedding: every token seen at least twice (min_count=2), default dimensions, rows
    # in decreasing frequency as gensim orders its vocabulary (sorted_vocab=1) and the vectors table keeps it
    counts = pc.value_counts(pc.list_flatten(tokens))
    known = pc.greater_equal(counts.field("counts"), 2)
    vocabulary, word_counts = counts.field("values").filter(known), counts.field("counts").filter(known).to_numpy()
    order = np.argsort(-word_counts, kind="stable")
    vocabulary, word_counts = vocabulary.take(pa.array(order)), word_counts[order]
    dim = Word2VecConfig().vector_size
    matrix = np.random.default_rng(0).standard_normal((len(vocabulary), dim)).astype(np.float32)
    configured = VectorizeConfig()  # the defaults: sif weighting, common component removed
    weights = word_weights(word_counts, configured.weighting, configured.sif_a)
    # the component of the loops and the vectorized side; the first fit also loads the kernel and scipy,
    # so the fit timed below is warm
    component = fit_component(tokens, vocabulary, matrix, word_counts, configured)
    batch = 65_536  # as the vectorize stage and predict call it: one Parquet batch at a time
    m = min(n, args["loop_max"])
    lists = tokens.slice(0, m).to_pylist()
    idx = {w: i for i, w in enumerate(vocabulary.to_pylist())}
    zero = np.zeros(dim, np.float32)

    def loop_plain(sentences):  # the reference loop of the goal since the first bench
        return [
            np.mean([matrix[idx[w]] for w in s if w in idx], axis=0) if any(w in idx for w in s) else zero
            for s in sentences
        ]

    def loop_sif(sentences):  # the same weighting and projection, per sentence, with numpy per sentence
        out = []
        for s in sentences:
            ids = [idx[w] for w in s if w in idx]
            if not ids:
                out.append(zero)
                continue
            v = weights[ids] @ matrix[ids] / len(ids)
            out.append(v - (v @ component) * component)
        return out

    def loop_indexed(sentences):  # informative: the plain mean with numpy's fancy indexing per sentence
        out = []
        for s in sentences:
            ids = [idx[w] for w in s if w in idx]
            out.append(matrix[ids].mean(axis=0) if ids else zero)
        return out

    def vectorized(kind: str, piece, threads: int = THREADS) -> np.ndarray:
        if kind == "plain":
            return average(piece, vocabulary, matrix, threads=threads)[0]
        return sentence_vectors(piece, vocabulary, matrix, word_counts, configured, component, threads)[0]

    # The vectorize stage's input: the tokens column written as the preprocess stage writes it (one row
    # group per batch) and read back as the stage reads it, batch by batch and dictionary-encoded. The
    # in-memory string lists (tokenize's output, as predict vectorizes) are timed too, for information.
    stored = WORK / f"tokens-{n}.parquet"
    with pq.ParquetWriter(stored, pa.schema([TOKENS]), compression="zstd") as writer:  # as store.table_writer
        for offset in range(0, n, batch):
            writer.write_table(pa.table({"tokens": tokens.slice(offset, batch)}))
    reads = {}
    for form, encoded in (("strings", ()), ("stage", ("tokens",))):
        start = time.perf_counter()
        pieces = [t["tokens"] for t in store.parquet_batches(stored, batch, ["tokens"], encoded)[1]]
        reads[form] = time.perf_counter() - start
    forms = {"stage": pieces, "strings": [tokens.slice(offset, batch) for offset in range(0, n, batch)]}

    passes = max(1, 500_000 // n)  # each timing at least ~500k sentences: small sizes are not timed on 0.2 s
    indexed_m = min(m, 20_000)
    timing = {key: [] for key in ("plain_loop", "sif_loop", "indexed_loop")}
    timing.update(
        {f"{kind}_{form}_{where}": [] for kind in ("plain", "sif") for form in forms for where in ("core", "machine")}
    )
    for _ in range(reps):  # each loop and the vectorized sides alternated, so that all see the same machine
        for kind, loop in (("plain", loop_plain), ("sif", loop_sif)):
            start = time.perf_counter()
            loop(lists)
            timing[f"{kind}_loop"].append(time.perf_counter() - start)
            for form, batches in forms.items():
                for where, threads in (("core", 1), ("machine", THREADS)):
                    with threadpool_limits(threads):  # per core: one thread in the product and in BLAS
                        start = time.perf_counter()
                        for _ in range(passes):
                            for piece in batches:
                                vectorized(kind, piece, threads)
                        timing[f"{kind}_{form}_{where}"].append((time.perf_counter() - start) / passes)
        start = time.perf_counter()
        loop_indexed(lists[:indexed_m])
        timing["indexed_loop"].append(time.perf_counter() - start)
    check = min(m, 1000)
    for kind, loop in (("plain", loop_plain), ("sif", loop_sif)):  # the two sides compute the same vectors
        want = np.vstack(loop(lists[:check]))
        for batches in forms.values():
            if not np.allclose(want, vectorized(kind, batches[0].slice(0, check)), atol=1e-4):
                raise AssertionError(f"vectorized {kind} and the per-sentence loop disagree")

    def spread(values: list[float]) -> dict:
        return {
            "min": round(min(values), 2),
            "median": round(statistics.median(values), 2),
            "max": round(max(values), 2),
        }

    vectorize = {
        "reps": reps,
        "passes_per_rep": passes,
        "loop_sentences": m,
        "threads": THREADS,
        "seconds": timing,
        "token_read_s": reads,
    }
    for kind in ("plain", "sif"):
        loop_rate = [m / t for t in timing[f"{kind}_loop"]]
        entry = {"loop_sentences_per_s": round(statistics.median(loop_rate))}
        for form in forms:
            for where in ("core", "machine"):
                rate = [n / t for t in timing[f"{kind}_{form}_{where}"]]
                entry[where if form == "stage" else f"{form}_{where}"] = {
                    "sentences_per_s": round(statistics.median(rate)),
                    "ratio": spread([r / lr for r, lr in zip(rate, loop_rate)]),  # each rep against its own loop
                }
        vectorize[kind] = entry
    vectorize["indexed_loop_sentences_per_s"] = round(statistics.median(indexed_m / t for t in timing["indexed_loop"]))
    vectorize["plain_core_vs_indexed_loop"] = spread(
        [(n / t) / (indexed_m / u) for t, u in zip(timing["plain_stage_core"], timing["indexed_loop"])]
    )
    start = time.perf_counter()
    average(tokens, vocabulary, matrix)  # one call returning all n vectors
    t_whole = time.perf_counter() - start
    t_vec = statistics.median(timing["plain_stage_machine"])

    def default_path() -> tuple[float, float]:
        """(component fit, whole) seconds of the default config on the n sentences as the vectorize stage
        runs it on a corpus, read from the stored file batch by batch, dictionary-encoded: with at most
        100k lines (every line in the fit's sample) the fit takes the averages of the pass itself, as the
        stage does with its unlabeled lines, and the component is removed from them after; with more, the
        fit streams the file for a seeded 100k sample, then the pass removes the component as it goes."""

        def read():
            return (t["tokens"] for t in store.parquet_batches(stored, batch, ["tokens"], ("tokens",))[1])

        begin = time.perf_counter()
        if sample_rows(n) is None:
            plain = [sentence_vectors(piece, vocabulary, matrix, word_counts, configured)[0] for piece in read()]
            start = time.perf_counter()
            fitted = fit_common([], n, vocabulary, matrix, word_counts, configured, means=plain)
            fit = time.perf_counter() - start
            for vectors in plain:
                remove_from_means(vectors, fitted, dim)
        else:
            start = time.perf_counter()
            fitted = fit_common(read(), n, vocabulary, matrix, word_counts, configured)
            fit = time.perf_counter() - start
            for piece in read():
                sentence_vectors(piece, vocabulary, matrix, word_counts, configured, fitted)
        if not np.array_equal(fitted, component):
            raise AssertionError("the default path's component is not fit_component's")
        return fit, time.perf_counter() - begin

    default = [default_path() for _ in range(reps)]
    stored.unlink()
    t_fit = statistics.median(f for f, _ in default)
    t_conf = statistics.median(w for _, w in default)

    t_pred = math.nan
    if args.get("record"):  # without one (a vectorize-only run of this child), predict is not measured
        os.environ["FEWLABEL_DATA_DIR"] = args["data_dir"]
        record = runs.read_run(args["record"])
        strings = texts.to_pylist()
        start = time.perf_counter()
        Classifier.of_run(record)(strings)  # the run's model and vectors are loaded once, then applied
        t_pred = time.perf_counter() - start
    return {
        "sentences": n,
        "tokens": n_tokens,
        "preprocess_s": t_pre,
        "preprocess_tokens_per_s": n_tokens / t_pre,
        "vectorize_s": t_vec,
        "vectorize_sentences_per_s": n / t_vec,
        "dim": dim,
        "vectorize_batch": batch,
        "vectorize_one_call_s": t_whole,
        "vectorize_one_call_sentences_per_s": n / t_whole,
        "vectorize_default_config": configured.model_dump(),
        "vectorize_component_fit_s": t_fit,
        "vectorize_default_s": t_conf,
        "vectorize_fit_share": spread([f / w for f, w in default]),
        "vectorize_default_reps_s": [[round(f, 3), round(w, 3)] for f, w in default],
        "vectorize_default_sentences_per_s": n / t_conf,
        "vectorize": vectorize,
        "vectorize_vs_loop_per_core": min(vectorize[k]["core"]["ratio"]["min"] for k in ("plain", "sif")),
        "vectorize_vs_loop": min(vectorize[k]["machine"]["ratio"]["min"] for k in ("plain", "sif")),
        "predict_s": t_pred,
        "predict_sentences_per_s": n / t_pred,
        "peak_rss_mib": peak_mib(),
    }


def child_vectorize_stage(args: dict) -> dict:
    """The vectorize stage (its ``.fn``, default config) on a synthetic corpus of n unlabeled lines, 200
    training and 2,000 test sentences, with the throughput child's kind of embedding; its seconds and
    those of the component fits inside it (every ``fit_common`` call the stage makes, wrapped), per rep
    (the artifact folder removed before each). An older stage's fit (``sampled_tokens`` then
    ``fit_component``) is timed the same way, so that this child can time either."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    os.environ["FEWLABEL_DATA_DIR"] = args["data_dir"]
    shutil.rmtree(args["data_dir"], ignore_errors=True)
    from fewlabel import catalog, store
    from fewlabel.config import PreprocessConfig, VectorizeConfig, Word2VecConfig
    from fewlabel.tasks import vectorize as stage_module
    from fewlabel.text import tokenize

    splits = {
        name: tokenize(pq.read_table(args[name])["text"].combine_chunks(), PreprocessConfig())
        for name in ("unlabeled", "train", "test")
    }
    dim = Word2VecConfig().vector_size
    rng = np.random.default_rng(0)

    def vectors_table(tokens: pa.Array, least: int) -> pa.Table:
        counts = pc.value_counts(pc.list_flatten(tokens))
        known = pc.greater_equal(counts.field("counts"), least)
        words, n = counts.field("values").filter(known), counts.field("counts").filter(known).to_numpy()
        order = np.argsort(-n, kind="stable")  # gensim's order: most frequent first
        matrix = rng.standard_normal((len(order), dim)).astype(np.float32)
        vector = pa.FixedSizeListArray.from_arrays(pa.array(matrix.ravel()), dim)
        return pa.table({"token": words.take(pa.array(order)), "count": pa.array(n[order]), "vector": vector})

    def preprocess(out: Path) -> dict:
        for name, tokens in splits.items():
            rows = np.arange(len(tokens))
            table = {"origin": pa.array([name] * len(tokens)), "row": pa.array(rows), "tokens": tokens}
            if name != "unlabeled":
                table = {"label": pa.array(np.where(rows % 2 == 0, "pos", "neg")), **table}
            with store.table_writer(out, catalog.SPLITS[name], pa.table(table).schema) as write:
                for start in range(0, len(tokens), 65_536):  # one row group per batch, as preprocess writes
                    write(pa.table(table).slice(start, 65_536))
        return {}

    def pretrain(out: Path) -> dict:
        store.write_table(out, catalog.VECTORS, vectors_table(splits["unlabeled"], 2))
        store.write_table(out, catalog.BASELINE_VECTORS, vectors_table(splits["train"], 1))
        store.output_path(out, catalog.WORD2VEC).write_bytes(b"")
        return {}

    pre = store.materialize("preprocess", "fewlabel-preprocess-bench", preprocess)
    vec = store.materialize("pretrain", "fewlabel-pretrain-bench", pretrain)
    fits = []

    def timed(function):
        def run(*a, **k):
            start, cpu = time.perf_counter(), time.process_time()
            try:
                return function(*a, **k)
            finally:
                fits.append((time.perf_counter() - start, time.process_time() - cpu))

        return run

    # the fit's functions as the stage module calls them (an older stage: its sample's read and its fit)
    for name in ("fit_common", "sampled_tokens", "fit_component"):
        if hasattr(stage_module, name):
            setattr(stage_module, name, timed(getattr(stage_module, name)))
    reps = []
    for _ in range(args["reps"]):
        shutil.rmtree(store.data_dir() / "features", ignore_errors=True)
        fits.clear()
        start, cpu = time.perf_counter(), time.process_time()
        ref = stage_module.vectorize.fn(pre, [], vec, VectorizeConfig())
        reps.append(
            {
                "stage_s": round(time.perf_counter() - start, 3),
                "fit_s": round(sum(w for w, _ in fits), 3),
                "stage_cpu_s": round(time.process_time() - cpu, 3),
                "fit_cpu_s": round(sum(c for _, c in fits), 3),
                "fits": len(fits),
            }
        )
    shutil.rmtree(args["data_dir"], ignore_errors=True)
    shares = [r["fit_s"] / r["stage_s"] for r in reps]
    cpu_shares = [r["fit_cpu_s"] / r["stage_cpu_s"] for r in reps]
    return {
        "sentences": len(splits["unlabeled"]),
        "train": len(splits["train"]),
        "test": len(splits["test"]),
        "reps": reps,
        "stage_s": statistics.median(r["stage_s"] for r in reps),
        "fit_s": statistics.median(r["fit_s"] for r in reps),
        "fit_share": {"min": min(shares), "median": statistics.median(shares), "max": max(shares)},
        "fit_cpu_share": statistics.median(cpu_shares),
        "files": ref["files"],
    }


GENSIM_PARAMS = {"vector_size", "window", "min_count", "sg", "negative", "sample", "alpha", "epochs", "workers", "seed"}
"""The Word2VecConfig fields that are gensim Word2Vec parameters (the others choose fewlabel's behaviour)."""


def child_pretrain(args: dict) -> dict:
    """fit_word2vec against raw gensim, same params, same corpus; list and corpus_file modes, 1/2 workers."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq
    from gensim.models import Word2Vec

    from fewlabel import catalog, store
    from fewlabel.config import PreprocessConfig, Word2VecConfig
    from fewlabel.corpus import write_line_sentences
    from fewlabel.text import tokenize
    from fewlabel.word2vec import MAX_SENTENCE, fit_word2vec

    tokens = tokenize(pq.read_table(args["corpus"])["text"], PreprocessConfig())
    lists = tokens.to_pylist()
    corpus_file = Path(args["corpus_file"])
    start = time.perf_counter()  # the file alone, as a raw gensim user would write it from the same tokens
    corpus_file.write_text("\n".join(pc.binary_join(tokens, " ").to_pylist()) + "\n", encoding="utf-8")
    t_plain = time.perf_counter() - start
    # what the pretrain stage adds in corpus_file mode: it streams the tokens from Parquet into the file,
    # counting the vocabulary on the way (fit_word2vec's side then skips gensim's scan of the file)
    os.environ["FEWLABEL_DATA_DIR"] = str(corpus_file.parent / "pretrain-data")
    ref = store.materialize(
        "preprocess", "bench", lambda out: store.write_table(out, catalog.UNLABELED, pa.table({"tokens": tokens})) or {}
    )
    start = time.perf_counter()
    written = write_line_sentences([(ref, catalog.UNLABELED)], corpus_file, MAX_SENTENCE)
    t_write = time.perf_counter() - start
    vocabulary = corpus_file.with_suffix(".vocabulary.json")
    vocabulary.write_text(json.dumps(written._asdict()), encoding="utf-8")
    words = len(pc.list_flatten(tokens))
    out = {
        "sentences": len(lists),
        "words": words,
        "epochs": args["epochs"],
        "corpus_file_write_s": t_write,
        "corpus_file_plain_write_s": t_plain,
    }
    out["modes"] = {}
    for mode in ("list", "corpus_file"):
        for workers in args["workers"]:
            config = Word2VecConfig(epochs=args["epochs"], workers=workers)
            params = config.model_dump(include=GENSIM_PARAMS)  # what fit_word2vec passes gensim
            source = {"sentences": lists} if mode == "list" else {"corpus_file": str(corpus_file)}

            if mode == "list":
                ours = functools.partial(fit_word2vec, lists, config)
            raw = functools.partial(Word2Vec, **source, **params)
            timing = {"fewlabel": [], "gensim": []}
            for rep in range(args["reps"]):  # alternated, each side first in every other rep
                for side in ("fewlabel", "gensim") if rep % 2 == 0 else ("gensim", "fewlabel"):
                    if mode == "corpus_file":  # each run in a fresh process, as the pretrain stage runs
                        trial = {"side": side, "corpus_file": str(corpus_file), "vocabulary": str(vocabulary)}
                        trial["epochs"] = args["epochs"]
                        timing[side].append(trial_seconds({**trial, "workers": workers}))
                        continue
                    start = time.perf_counter()
                    (ours if side == "fewlabel" else raw)()
                    timing[side].append(time.perf_counter() - start)
            med = {k: statistics.median(v) for k, v in timing.items()}
            ratios = [g / f for f, g in zip(timing["fewlabel"], timing["gensim"])]
            out["modes"][f"{mode}_w{workers}"] = {
                "fewlabel_s": [round(t, 2) for t in timing["fewlabel"]],
                "gensim_s": [round(t, 2) for t in timing["gensim"]],
                "fewlabel_words_per_s": words * args["epochs"] / med["fewlabel"],
                "gensim_words_per_s": words * args["epochs"] / med["gensim"],
                "ratio": med["gensim"] / med["fewlabel"],
                "ratio_per_rep": {
                    "min": round(min(ratios), 3),
                    "median": round(statistics.median(ratios), 3),
                    "max": round(max(ratios), 3),
                },
            }
    corpus_file.unlink()
    vocabulary.unlink()
    shutil.rmtree(corpus_file.parent / "pretrain-data")
    return out


def trial_seconds(args: dict) -> float:
    """One corpus_file training (:func:`child_pretrain_trial`) in a fresh process: its seconds."""
    done = subprocess.run(
        [PY, __file__, "--child", "pretrain_trial", json.dumps(args)], cwd=ROOT, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise RuntimeError(f"pretrain trial {args} exited {done.returncode}:\n{done.stderr[-3000:]}")
    return last_json(done.stdout)["seconds"]


def child_pretrain_trial(args: dict) -> dict:
    """One Word2Vec training in corpus_file mode, by fit_word2vec or raw gensim with the same params.

    Each run gets its own process: in one long process, 2-worker runs were slower on whichever side
    followed the other in most pairs (ratios 0.79-1.08 between runs of the same bench), while fresh
    processes alternating the sides gave 1.03."""
    from gensim.models import Word2Vec

    from fewlabel.config import Word2VecConfig
    from fewlabel.corpus import LineCorpus
    from fewlabel.word2vec import fit_word2vec

    config = Word2VecConfig(epochs=args["epochs"], workers=args["workers"])
    vocabulary = LineCorpus(**json.loads(Path(args["vocabulary"]).read_text(encoding="utf-8")))
    start = time.perf_counter()
    if args["side"] == "fewlabel":  # as the pretrain stage calls it: with the vocabulary counted while writing
        fit_word2vec(None, config, corpus_file=Path(args["corpus_file"]), vocabulary=vocabulary)
    else:
        Word2Vec(corpus_file=args["corpus_file"], **config.model_dump(include=GENSIM_PARAMS))
    return {"seconds": time.perf_counter() - start}


def child_stage(args: dict) -> dict:
    """Build one stage with its ``.fn`` (upstream artifacts come from earlier processes); its peak RSS."""
    os.environ["FEWLABEL_DATA_DIR"] = args["data_dir"]
    from fewlabel.config import load_config

    if args["stage"] == "predict":
        from fewlabel.runs import read_run
        from fewlabel.tasks.predict import predict, shard_calls

        before = peak_mib()
        start = time.perf_counter()
        for call in shard_calls(args["input"], read_run(args["record"]), "text", "utf-8").values():
            predict.fn(**call)
    else:
        from fewlabel.flows.train import PIPELINE

        config = load_config(None, args["sets"])
        refs = {}
        for wiring in PIPELINE:
            if wiring.name == args["stage"]:
                before = peak_mib()
                start = time.perf_counter()
            built = [wiring.task.fn(**call) for call in wiring.calls(refs, config).values()]
            refs[wiring.name] = built if wiring.each else built[0]
            if wiring.name == args["stage"]:
                break
    return {"seconds": time.perf_counter() - start, "peak_rss_mib": peak_mib(), "peak_before_mib": before}


def child_vectorize(args: dict) -> dict:
    """The stages up to vectorize for ``sets`` with their plain functions (built, or reused when intact):
    the vectorize artifact's manifest."""
    os.environ["FEWLABEL_DATA_DIR"] = args["data_dir"]
    from fewlabel import store
    from fewlabel.config import load_config
    from fewlabel.flows.train import PIPELINE

    config = load_config(None, args["sets"])
    refs = {}
    for wiring in PIPELINE:
        built = [wiring.task.fn(**call) for call in wiring.calls(refs, config).values()]
        refs[wiring.name] = built if wiring.each else built[0]
        if wiring.name == "vectorize":
            return {"manifest": str(store.data_dir() / refs["vectorize"]["path"] / store.MANIFEST)}
    raise RuntimeError("no vectorize stage in the pipeline")


def child_train(args: dict) -> dict:
    """The train stage's own function (``train.fn.__wrapped__``: no cache, no Prefect) on one vectorize
    artifact at the classifier's defaults, with whichever fewlabel is first on the path: CPU seconds
    (user + sys of this process, every thread) and wall seconds of the call alone."""
    import hashlib
    import tempfile

    os.environ["FEWLABEL_DATA_DIR"] = args["data_dir"]
    from fewlabel.tasks.train import train  # noqa: I001 (whichever fewlabel is first on the path)

    import fewlabel
    from fewlabel.config import ClassifierConfig

    ref = json.loads(Path(args["ref"]).read_text())
    with tempfile.TemporaryDirectory(dir=WORK) as out:
        cpu = resource.getrusage(resource.RUSAGE_SELF)
        start = time.perf_counter()
        stats = train.fn.__wrapped__(Path(out), vectorize=ref, config=ClassifierConfig())
        seconds = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_SELF)
        digests = {p.name: hashlib.sha256(p.read_bytes()).hexdigest()[:16] for p in sorted(Path(out).glob("*.skops"))}
    pseudo = stats["pretrained"].get("pseudo_labels", {})
    return {
        "cpu_seconds": after.ru_utime + after.ru_stime - cpu.ru_utime - cpu.ru_stime,
        "seconds": seconds,
        "code": str(Path(fewlabel.__file__).parent),
        "models": digests,
        "pseudo_labels_used": pseudo.get("used"),
        "safeguard": pseudo.get("safeguard", {}).get("reason"),
    }


CHILDREN = {
    "train": child_train,
    "vectorize": child_vectorize,
    "throughput": child_throughput,
    "vectorize_stage": child_vectorize_stage,
    "pretrain": child_pretrain,
    "pretrain_trial": child_pretrain_trial,
    "stage": child_stage,
}


def base_install(commit: str) -> Path:
    """fewlabel as of ``commit``, installed apart (``pip install --target``, the layout of an install) under
    bench/out: put first on PYTHONPATH, it is imported instead of the working tree's."""
    full = subprocess.run(
        ["git", "rev-parse", "--verify", f"{commit}^{{commit}}"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    target = WORK / f"base-{full[:7]}"
    if not (target / "fewlabel" / "tasks" / "train.py").exists():
        shutil.rmtree(target, ignore_errors=True)
        source = WORK / f"base-{full[:7]}-src"
        shutil.rmtree(source, ignore_errors=True)
        source.mkdir(parents=True)
        archive = subprocess.run(["git", "archive", full], cwd=ROOT, capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(source)], input=archive, check=True)
        subprocess.run(
            [PY, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target), str(source)], check=True
        )
        shutil.rmtree(source)
    return target


def fit_speed(data_dir: str, pairs: int, manifest: str | None = None) -> dict:
    """The train stage at the classifier's defaults on a vectorize artifact (``manifest``, or the only one in
    ``data_dir``): the code of FIT_BASE (before) and of this tree (after), each in its own process,
    alternating (before first in odd pairs); min and median of CPU and wall seconds, and the ratios of
    the medians."""
    commit = os.environ.get("BENCH_FIT_BASE", FIT_BASE)
    base = base_install(commit)
    manifests = [Path(manifest)] if manifest else sorted(Path(data_dir).glob("features/vectorize-*/manifest.json"))
    if len(manifests) != 1:
        raise RuntimeError(f"expected one vectorize artifact in {data_dir}, found {len(manifests)}")
    args = {"data_dir": data_dir, "ref": str(manifests[0])}
    envs = {"before": {**os.environ, "PYTHONPATH": str(base)}, "after": dict(os.environ)}
    runs = {"before": [], "after": []}
    for i in range(pairs):
        for side in ("before", "after") if i % 2 == 0 else ("after", "before"):
            r = run_child("train", args, WORK / f"fit-{side}-{i}", envs[side])
            runs[side].append(r)
            say(
                f"  pair {i + 1}/{pairs}, {side}: CPU {r['cpu_seconds']:.1f} s, wall {r['seconds']:.1f} s ({r['code']})"
            )
    out = {"base": commit, "pairs": pairs, "order": "before first in odd pairs", "vectorize": manifests[0].parent.name}
    for side, rows in runs.items():
        out[side] = {
            key: {
                "min": round(min(r[key] for r in rows), 2),
                "median": round(statistics.median(r[key] for r in rows), 2),
            }
            for key in ("cpu_seconds", "seconds")
        }
        out[side]["models"] = rows[-1]["models"]
        out[side]["safeguard"] = rows[-1]["safeguard"]
    for key in ("cpu_seconds", "seconds"):
        out[f"{key}_ratio"] = round(out["after"][key]["median"] / out["before"][key]["median"], 3)
    out["same_models"] = out["before"]["models"] == out["after"]["models"]
    return out


def run_child(kind: str, args: dict, log: Path, env: dict | None = None) -> dict:
    r = measure([PY, __file__, "--child", kind, json.dumps(args)], env or dict(os.environ), log)
    return {**last_json(r["stdout"]), "process_seconds": r["seconds"], "process_rss_mib": r["rss_mib"]}


# ---------------------------------------------------------------- the bench


def machine() -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    mem = next((int(line.split()[1]) for line in open("/proc/meminfo") if line.startswith("MemTotal")), 0)
    from importlib.metadata import version

    autogroup = Path("/proc/self/autogroup")
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "mem_gib": round(mem / 2**20, 1),
        "load_avg_at_start": [round(x, 2) for x in os.getloadavg()],
        # Linux shares the CPU between sessions first (autogroup), then by nice within a session: a bench
        # at nice 19 beside a busy nice-0 process of its own session runs many times slower (RESULTS.md)
        "nice": os.nice(0),
        "autogroup": autogroup.read_text().strip() if autogroup.exists() else None,
        "python": platform.python_version(),
        **{lib: version(lib) for lib in ("prefect", "gensim", "scikit-learn", "numpy", "pyarrow")},
    }


def exponent(rows: list[dict], key: str) -> list[float]:
    """log(t2/t1) / log(n2/n1) between consecutive sizes: 1.0 = time linear in size."""
    return [
        round(math.log(b[key] / a[key]) / math.log(b["sentences"] / a["sentences"]), 3)
        for a, b in zip(rows, rows[1:], strict=False)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, one pair, tiny end to end (< 3 min)")
    parser.add_argument("--out", type=Path, help="JSON results (default bench/latest.json, latest-quick.json)")
    parser.add_argument(
        "--fit-only",
        action="store_true",
        help="only the train stage before/after, on MR's vectorize artifact in $FEWLABEL_DATA_DIR or ./data "
        "(built there if missing); BENCH_FIT_PAIRS pairs (default 3)",
    )
    parser.add_argument("--child", nargs=2, metavar=("KIND", "ARGS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    # SIGTERM (a `kill`, a CI timeout) unwinds like Ctrl-C, so the Prefect server's finally block stops it
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    if args.child:
        print(json.dumps(CHILDREN[args.child[0]](json.loads(args.child[1]))))
        return
    if args.fit_only:
        WORK.mkdir(parents=True, exist_ok=True)
        data = str(Path(os.environ.get("FEWLABEL_DATA_DIR", ROOT / "data")).resolve())
        say(f"fewlabel bench, train stage only: load {machine()['load_avg_at_start']}, data {data}")
        built = run_child("vectorize", {"data_dir": data, "sets": ["data.source=mr"]}, WORK / "fit-vectorize")
        fit = fit_speed(data, int(os.environ.get("BENCH_FIT_PAIRS", 3)), built["manifest"])
        say(json.dumps(fit, indent=2))
        (args.out or WORK / "fit-only.json").write_text(json.dumps(fit, indent=2) + "\n")
        return

    quick = args.quick
    out = args.out or ROOT / "bench" / ("latest-quick.json" if quick else "latest.json")
    default_sizes = "20k,100k" if quick else "100k,1m"
    sizes = sorted(parse_size(s) for s in os.environ.get("BENCH_SIZES", default_sizes).split(","))
    pairs = int(os.environ.get("BENCH_PAIRS", 1 if quick else 3))
    source = "tiny" if quick else "mr"
    began = time.perf_counter()
    WORK.mkdir(parents=True, exist_ok=True)
    result = {
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "command": "make bench-quick" if quick else "make bench",
        "machine": machine(),
        "sizes": sizes,
        "pairs": pairs,
        "source": source,
    }
    say(
        f"fewlabel bench ({'quick' if quick else 'full'}): {result['date']}, {result['machine']['nproc']} cores, "
        f"{result['machine']['cpu']}, load {result['machine']['load_avg_at_start']}, nice {result['machine']['nice']} "
        f"({result['machine']['autogroup']})"
    )

    for n in sizes:  # generate the corpora first, so their time counts nowhere else
        synth(n)

    start = time.perf_counter()
    with start_server() as api_url:
        result["server_start_s"] = round(time.perf_counter() - start, 2)
        say(f"prefect server started in {result['server_start_s']:.1f} s at {api_url}")

        say(f"end to end on {source}: {pairs} pairs of whole processes (bare; cold, warm), order alternating")
        e2e = end_to_end([f"data.source={source}"], pairs, api_url)
        result["end_to_end"] = e2e

        fit_pairs = int(os.environ.get("BENCH_FIT_PAIRS", 1 if quick else 3))
        say(f"train stage on {source} at the defaults: {FIT_BASE} (before) and this tree (after), {fit_pairs} pairs")
        fit = fit_speed(e2e["data_dir"], fit_pairs)
        result["fit"] = fit
        say(
            f"  CPU s median before {fit['before']['cpu_seconds']['median']}, after "
            f"{fit['after']['cpu_seconds']['median']} ({fit['cpu_seconds_ratio']}x); wall s before "
            f"{fit['before']['seconds']['median']}, after {fit['after']['seconds']['median']} "
            f"({fit['seconds_ratio']}x); same model bytes: {fit['same_models']}"
        )

        say("per stage on synthetic corpora")
        rows = []
        for n in sizes:
            row = run_child(
                "throughput",
                {
                    "corpus": str(synth(n)),
                    "reps": 3,
                    "loop_max": 100_000,
                    "record": e2e["record"],
                    "data_dir": e2e["data_dir"],
                },
                WORK / f"throughput-{size_label(n)}",
            )
            rows.append(row)
            v = row["vectorize"]
            say(
                f"  {size_label(n)}: preprocess {row['preprocess_tokens_per_s'] / 1e6:.2f}M tokens/s, predict "
                f"{row['predict_sentences_per_s'] / 1e3:.1f}k sent/s; vectorize (65,536-row batches; ratios "
                f"min/median/max over {v['reps']} reps, each against its own loop):"
            )
            for kind, name in (("plain", "plain mean"), ("sif", "sif + component")):
                e = v[kind]
                say(
                    f"    {name}: loop {e['loop_sentences_per_s'] / 1e3:.1f}k sent/s; one core "
                    f"{e['core']['sentences_per_s'] / 1e3:.0f}k ({fmt(e['core']['ratio'])}); {v['threads']} cores "
                    f"{e['machine']['sentences_per_s'] / 1e3:.0f}k ({fmt(e['machine']['ratio'])}); from string "
                    f"lists: one core {fmt(e['strings_core']['ratio'])}, {v['threads']} cores "
                    f"{fmt(e['strings_machine']['ratio'])}"
                )
            say(
                f"    tokens read as the stage reads them (dictionary-encoded) {v['token_read_s']['stage']:.2f} s, "
                f"as strings {v['token_read_s']['strings']:.2f} s"
            )
            say(
                f"    default path (the stage's way: component fit, then apply) {row['vectorize_default_s']:.2f} s "
                f"({row['vectorize_default_sentences_per_s'] / 1e3:.0f}k sent/s), of which the component fit "
                f"{row['vectorize_component_fit_s']:.2f} s: fit / default {fmt_share(row['vectorize_fit_share'])}; "
                "one whole call "
                f"{row['vectorize_one_call_sentences_per_s'] / 1e3:.0f}k; fancy-indexed loop "
                f"{v['indexed_loop_sentences_per_s'] / 1e3:.1f}k "
                f"(one core / it: {fmt(v['plain_core_vs_indexed_loop'])})"
            )
        result["throughput"] = rows

        say("vectorize stage, default config (n unlabeled lines, 200 training, 2,000 test sentences; 3 reps)")
        staged = []
        for n in sizes:
            row = run_child(
                "vectorize_stage",
                {
                    "unlabeled": str(synth(n)),
                    "train": str(synth(200, seed=1)),
                    "test": str(synth(2_000, seed=2)),
                    "reps": 3,
                    "data_dir": str(WORK / f"vectorize-stage-{size_label(n)}"),
                },
                WORK / f"vectorize-stage-{size_label(n)}",
            )
            staged.append(row)
            say(
                f"  {size_label(n)}: stage {row['stage_s']:.2f} s, component fits {row['fit_s']:.2f} s (median of "
                f"{len(row['reps'])}); fit / stage per rep min/median/max {fmt_share(row['fit_share'])} (goal <= 0.5); "
                f"in CPU seconds (every thread) {row['fit_cpu_share']:.2f}"
            )
        result["vectorize_stage"] = staged
        result["slope"] = {
            stage: exponent(rows, f"{stage}_s") for stage in ("preprocess", "vectorize", "vectorize_default", "predict")
        }

        n = sizes[0]
        epochs = 1
        say(f"pretrain on {size_label(n)} sentences, {epochs} epoch: fit_word2vec vs raw gensim (alternated)")
        pre = run_child(
            "pretrain",
            {
                "corpus": str(synth(n)),
                "epochs": epochs,
                "reps": 1 if quick else 7,  # single 2-worker runs vary by 20-30% here: 3 and 5 reps were too few
                "corpus_file": str(WORK / "corpus.txt"),
                "workers": [1] if quick else [1, 2],
            },
            WORK / "pretrain",
        )
        result["pretrain"] = pre
        say(
            f"  corpus file as the stage writes it, counting the vocabulary: {pre['corpus_file_write_s']:.2f} s "
            f"(the file alone: {pre['corpus_file_plain_write_s']:.2f} s)"
        )
        for mode, v in pre["modes"].items():
            say(
                f"  {mode}: fewlabel {v['fewlabel_words_per_s'] / 1e3:.0f}k words/s, gensim "
                f"{v['gensim_words_per_s'] / 1e3:.0f}k words/s: {v['ratio']:.3f}x (ratio per rep min/median/max "
                f"{v['ratio_per_rep']['min']} / {v['ratio_per_rep']['median']} / {v['ratio_per_rep']['max']})"
            )

        n = parse_size(os.environ.get("BENCH_MEM_SIZE", size_label(sizes[0] if quick else sizes[-1])))
        label = size_label(n)
        say(f"memory at {label} sentences (files source, word2vec.epochs=1, evaluate.bootstrap=0)")
        labeled, test = labeled_files(n, WORK / "mem-inputs")
        sets = [
            "data.source=files",
            f"data.unlabeled_path={synth(n)}",
            f"data.labeled_path={labeled}",
            f"data.test_path={test}",
            "word2vec.epochs=1",
            "evaluate.bootstrap=0",
        ]
        data = fresh_data_dir(WORK / f"mem-run-{label}")
        env = flow_env(data, api_url)
        whole = measure(
            [str(BIN / "fewlabel"), "run", "--json", *[a for s in sets for a in ("--set", s)]],
            env,
            WORK / f"mem-run-{label}",
        )
        record = last_json(whole["stdout"])["run_record"]
        say(f"  whole run: {whole['seconds']:.1f} s, peak RSS {whole['rss_mib']:.0f} MiB")
        predict_out = WORK / f"mem-predictions-{label}.parquet"
        predict_out.unlink(missing_ok=True)  # an earlier bench's copy: predict refuses to overwrite it
        whole_predict = measure(
            [str(BIN / "fewlabel"), "predict", str(synth(n)), "--output", str(predict_out), "--run", record, "--json"],
            env,
            WORK / f"mem-predict-{label}",
        )
        say(
            f"  whole `fewlabel predict`: {whole_predict['seconds']:.1f} s, peak RSS {whole_predict['rss_mib']:.0f} MiB"
        )
        # each stage again in its own process, in place: its artifact folder is removed, its .fn rebuilds
        # it (same bytes) from the upstream artifacts of the whole run
        artifacts = last_json(whole["stdout"])["artifacts"]
        default_stages = (
            "ingest,shard,preprocess,pretrain,vectorize,train,evaluate,predict"
            if quick
            else "ingest,shard,preprocess,vectorize,train,evaluate,predict"
        )
        per_stage = {}
        for stage in os.environ.get("BENCH_STAGES", default_stages).split(","):
            child = {"stage": stage, "data_dir": str(data), "sets": sets}
            if stage == "predict":  # its shard was built by the whole `fewlabel predict`: build it again
                child.update(input=str(synth(n)), output=str(predict_out), record=record)
                shutil.rmtree(data / "model_output", ignore_errors=True)
            else:
                for folder in artifacts[stage] if isinstance(artifacts[stage], list) else [artifacts[stage]]:
                    shutil.rmtree(folder)
            per_stage[stage] = run_child("stage", child, WORK / f"mem-stage-{stage}-{label}")
            s = per_stage[stage]
            say(
                f"  {stage}: {s['seconds']:.1f} s, peak RSS {s['peak_rss_mib']:.0f} MiB "
                f"(before the stage: {s['peak_before_mib']:.0f} MiB)"
            )
        result["memory"] = {
            "size": n,
            "sets": sets,
            "whole_run_s": round(whole["seconds"], 2),
            "whole_run_peak_rss_mib": round(whole["rss_mib"], 1),
            "whole_predict_s": round(whole_predict["seconds"], 2),
            "whole_predict_peak_rss_mib": round(whole_predict["rss_mib"], 1),
            "stages": per_stage,
        }

    list_w1 = pre["modes"]["list_w1"]
    result.update(
        {
            "cold_vs_bare": e2e["cold_vs_bare"],
            "train_cpu_vs_before": fit["cpu_seconds_ratio"],
            "train_wall_vs_before": fit["seconds_ratio"],
            "warm_vs_cold": e2e["warm_vs_cold"],
            "pretrain_vs_gensim": round(list_w1["ratio"], 3),
            "pretrain_vs_gensim_corpus_file": round(pre["modes"]["corpus_file_w1"]["ratio"], 3),
            **(
                {"pretrain_vs_gensim_corpus_file_w2": round(pre["modes"]["corpus_file_w2"]["ratio"], 3)}
                if "corpus_file_w2" in pre["modes"]
                else {}
            ),
            "vectorize_vs_loop_per_core": round(min(r["vectorize_vs_loop_per_core"] for r in rows), 1),
            "vectorize_vs_loop": round(min(r["vectorize_vs_loop"] for r in rows), 1),
            f"peak_rss_mib_{label}": round(max(per_stage[s]["peak_rss_mib"] for s in STREAMING if s in per_stage), 1),
            "bench_seconds": round(time.perf_counter() - began, 1),
        }
    )
    for row in e2e, *rows:
        row.pop("stdout", None)
    out.write_text(json.dumps(result, indent=2) + "\n")
    report(result, label)
    say(f"wrote {out} in {result['bench_seconds']:.0f} s")


def report(r: dict, label: str) -> None:
    e = r["end_to_end"]
    say("\n| measure | value | goal | met |\n|---|---|---|---|")
    for key, (sign, goal) in GOALS.items():
        if key == "train_cpu_vs_before" and r["source"] != "mr":  # tiny's train stage is its imports
            say(f"| {key} | {r[key]} | {sign} {goal} on MR (make bench) | |")
            continue
        met = r[key] <= goal if sign == "<=" else r[key] >= goal
        say(f"| {key} | {r[key]} | {sign} {goal} | {'yes' if met else 'NO'} |")
    for key, goal in (("pretrain_vs_gensim_corpus_file", 0.9), ("pretrain_vs_gensim_corpus_file_w2", 0.95)):
        if key in r:
            say(f"| {key} | {r[key]} | >= {goal} | {'yes' if r[key] >= goal else 'NO'} |")
    for row in r["throughput"]:
        v = row["vectorize"]
        for kind in ("plain", "sif"):
            for where in ("core", "machine"):
                say(
                    f"| vectorize {kind} / loop, {where}, {size_label(row['sentences'])} | "
                    f"{fmt(v[kind][where]['ratio'])} (min / median / max) | >= 10 | |"
                )
                say(
                    f"| (from string lists) {kind} / loop, {where}, {size_label(row['sentences'])} | "
                    f"{fmt(v[kind][f'strings_{where}']['ratio'])} | printed | |"
                )
    for row in r["vectorize_stage"]:
        share = row["fit_share"]["median"]
        say(
            f"| vectorize stage: component fit / stage, {size_label(row['sentences'])} | {share:.2f} "
            f"({row['fit_s']:.2f} / {row['stage_s']:.2f} s) | <= 0.5 | {'yes' if share <= 0.5 else 'NO'} |"
        )
    for row in r["throughput"]:
        say(
            f"| default path: component fit / fit + apply, {size_label(row['sentences'])} | "
            f"{fmt_share(row['vectorize_fit_share'])} (min / median / max) | printed | |"
        )
    say(f"| peak_rss_mib_{label} | {r[f'peak_rss_mib_{label}']} | printed | |")
    say(
        f"\nend to end ({r['source']}, medians of {r['pairs']}): bare {e['median_seconds']['bare']} s, cold "
        f"{e['median_seconds']['cold']} s, warm {e['median_seconds']['warm']} s; all runs {e['seconds']}; "
        f"CPU seconds {e['cpu_seconds']}; cold / bare per pair {e['cold_vs_bare_pairs']} (goal on their median), "
        f"of the medians {e['cold_vs_bare_of_medians']}; peak RSS {e['peak_rss_mib']} MiB; "
        f"server start {r['server_start_s']} s; "
        f"same metrics bare/flow: {e['same_metrics']} {e['metrics']}"
    )
    f = r["fit"]
    sides = "; ".join(
        f"{side} CPU {f[side]['cpu_seconds']['median']} s ({f[side]['cpu_seconds']['min']}), wall "
        f"{f[side]['seconds']['median']} s ({f[side]['seconds']['min']})"
        for side in ("before", "after")
    )
    say(
        f"train stage ({r['source']}, defaults, medians of {f['pairs']} pairs, min in brackets; before = {f['base']}): "
        f"{sides}; after / before: CPU {f['cpu_seconds_ratio']}, wall {f['seconds_ratio']}; same model bytes "
        f"{f['same_models']}"
    )
    say("growth exponent of time between sizes (1.0 = linear): " + ", ".join(f"{k} {v}" for k, v in r["slope"].items()))


if __name__ == "__main__":
    main()
