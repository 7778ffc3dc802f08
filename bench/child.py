"""One vectorize call, timed in this process and in child processes started several ways (issue 28).

    .venv/bin/python bench/child.py [--size 1m] [--reps 2] [--parent-blas 1] [--child-blas 1]

The call is what a user comparing libraries times (fit the common component on N in-memory sentences,
then vectorize them: ``fit_component`` + ``sentence_vectors``, the default config) on the synthetic
corpus of bench/run.py with its kind of embedding. Each rep runs it, alternated: here (``parent``), in
a fresh interpreter started by ``subprocess`` as bench/run.py starts its children (``subprocess``), and
in ``multiprocessing`` children (``fork``: inherits this process's state, threads and heap; ``spawn``).
Each side prints its wall seconds, its CPU seconds (user, system: every thread), its context switches
(voluntary: waits; involuntary: preempted) and minor page faults. ``--parent-blas 1`` limits this
process's BLAS to one thread (threadpoolctl, not inherited by children); ``--child-blas 1`` sets
OPENBLAS_NUM_THREADS=1 in the subprocess and spawn children's environment.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

DATA = None
"""The parent's inputs, inherited by fork children."""


def load(size: str):
    """(token lists, vocabulary, embedding, counts): bench/run.py's synthetic corpus and embedding."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq
    from run import parse_size, synth

    from fewlabel.config import PreprocessConfig
    from fewlabel.text import tokenize

    tokens = tokenize(pq.read_table(synth(parse_size(size)))["text"].combine_chunks(), PreprocessConfig())
    counts = pc.value_counts(pc.list_flatten(tokens))
    known = pc.greater_equal(counts.field("counts"), 2)
    words, n = counts.field("values").filter(known), counts.field("counts").filter(known).to_numpy()
    order = np.argsort(-n, kind="stable")
    matrix = np.random.default_rng(0).standard_normal((len(order), 300)).astype(np.float32)
    return tokens, words.take(pa.array(order)), matrix, n[order]


def usage() -> dict:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return {"user": r.ru_utime, "sys": r.ru_stime, "vcsw": r.ru_nvcsw, "ivcsw": r.ru_nivcsw, "minflt": r.ru_minflt}


def one_call(data) -> dict:
    """fit_component + sentence_vectors on all the sentences: wall seconds and this process's usage."""
    from fewlabel.config import VectorizeConfig
    from fewlabel.vectors import fit_component, sentence_vectors

    tokens, vocabulary, matrix, counts = data
    config = VectorizeConfig()
    before, start = usage(), time.perf_counter()
    component = fit_component(tokens, vocabulary, matrix, counts, config)
    fit = time.perf_counter() - start
    sentence_vectors(tokens, vocabulary, matrix, counts, config, component)
    wall, after = time.perf_counter() - start, usage()
    return {"wall": wall, "fit": fit, **{k: after[k] - before[k] for k in after}}


def warm_call(data) -> dict:
    """One untimed call first (numba's cached kernel and scipy load), then the timed one."""
    one_call(data)
    return one_call(data)


def in_child(queue, size: str) -> None:
    queue.put(warm_call(DATA if DATA is not None else load(size)))


def run_mp(kind: str, size: str) -> dict:
    context = multiprocessing.get_context(kind)
    queue = context.Queue()
    process = context.Process(target=in_child, args=(queue, size))
    process.start()
    result = queue.get()
    process.join()
    return result


def main() -> None:
    global DATA
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="1m")
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--parent-blas", type=int, default=0, help="BLAS threads of this process (0: as it is)")
    parser.add_argument("--child-blas", type=int, default=0, help="OPENBLAS_NUM_THREADS of fresh children")
    parser.add_argument("--sides", default="parent,subprocess,fork,spawn")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(warm_call(load(args.size))))
        return
    if args.child_blas:
        os.environ["OPENBLAS_NUM_THREADS"] = str(args.child_blas)  # fresh interpreters read it at start
    if args.parent_blas:
        from threadpoolctl import threadpool_limits

        threadpool_limits(args.parent_blas)  # this process only, for the rest of its life
    DATA = load(args.size)
    sides = {
        "parent": lambda: warm_call(DATA),
        "subprocess": lambda: json.loads(
            subprocess.run(
                [sys.executable, __file__, "--child", "--size", args.size], capture_output=True, text=True, check=True
            ).stdout.splitlines()[-1]
        ),
        "fork": lambda: run_mp("fork", args.size),
        "spawn": lambda: run_mp("spawn", args.size),
    }
    names = args.sides.split(",")
    results = {name: [] for name in names}
    for rep in range(args.reps):
        for name in names if rep % 2 == 0 else names[::-1]:
            load_avg = os.getloadavg()[0]
            r = sides[name]()
            r["load"] = load_avg
            results[name].append(r)
            print(
                f"rep {rep + 1} {name:10s}: wall {r['wall']:6.2f} s (fit {r['fit']:5.2f}), CPU user {r['user']:6.2f} "
                f"sys {r['sys']:5.2f}, switches {r['vcsw']:6d} voluntary {r['ivcsw']:6d} involuntary, minor faults "
                f"{r['minflt']:7d}, load {load_avg:.1f}",
                flush=True,
            )
    print("medians:")
    for name, rows in results.items():
        med = {k: statistics.median(r[k] for r in rows) for k in ("wall", "fit", "user", "sys")}
        print(f"  {name:10s}: wall {med['wall']:.2f} s, fit {med['fit']:.2f} s, CPU {med['user'] + med['sys']:.2f} s")


if __name__ == "__main__":
    main()
