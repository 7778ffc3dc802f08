"""Synthetic unlabeled corpora for scale tests: Zipfian vocabulary, realistic sentence lengths.

    .venv/bin/python bench/synth.py 1000000 bench/out/synth-1m.parquet

Words are drawn from a Zipf(1.1) distribution over a vocabulary of pronounceable pseudo-words;
sentence lengths are log-normal (median ~18 tokens, like review sentences), clipped to 1..120.
Written as Parquet (one `text` column) in row groups of 65,536 rows, generated in batches so
memory stays flat whatever the size.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

SYLLABLES = [c + v for c in "bcdfghjklmnprstvwz" for v in "aeiou"]


def vocabulary(size: int, rng: np.random.Generator) -> np.ndarray:
    """``size`` distinct pseudo-words of 1-4 syllables."""
    words, seen = [], set()
    while len(words) < size:
        n = int(rng.integers(1, 5))
        word = "".join(SYLLABLES[i] for i in rng.integers(0, len(SYLLABLES), n))
        if word not in seen:
            seen.add(word)
            words.append(word)
    return np.asarray(words, dtype=object)


def batches(rows: int, vocab_size: int = 50_000, batch: int = 65_536, seed: int = 0):
    """Yield Arrow tables of synthetic sentences, ``batch`` rows at a time."""
    rng = np.random.default_rng(seed)
    words = vocabulary(vocab_size, rng)
    ranks = np.arange(1, vocab_size + 1)
    p = ranks**-1.1
    p /= p.sum()
    for start in range(0, rows, batch):
        n = min(batch, rows - start)
        lengths = np.clip(rng.lognormal(np.log(18), 0.5, n).astype(int), 1, 120)
        ids = rng.choice(vocab_size, size=int(lengths.sum()), p=p)
        offsets = np.concatenate([[0], np.cumsum(lengths)])
        tokens = words[ids]
        text = [" ".join(tokens[offsets[i] : offsets[i + 1]]) for i in range(n)]
        yield pa.table({"text": pa.array(text, pa.string())})


def write(rows: int, path: Path, seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = None
    for table in batches(rows, seed=seed):
        writer = writer or pq.ParquetWriter(path, table.schema, compression="zstd")
        writer.write_table(table, row_group_size=65_536)
    writer.close()
    return path


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rows", type=int)
    parser.add_argument("path", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    start = time.perf_counter()
    write(args.rows, args.path, args.seed)
    print(
        f"{args.rows} sentences -> {args.path} ({args.path.stat().st_size / 2**20:.1f} MiB) "
        f"in {time.perf_counter() - start:.1f} s"
    )
