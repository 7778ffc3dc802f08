"""Document-level Word2Vec variants for the retired bench/levers_experiment.py: the MR reviews whole (not
split into lines, so a large window spans a review) + the 2,000 training sentences without labels, reviews
equal to a test sentence removed, as the curve's pretraining text otherwise.

Usage (from the repository root): .venv/bin/python experiments/doc_word2vec.py '{"cbow_w50": {"sg": 0, "window": 50}}'
Writes data/experiments/vectors-doc-<name>.parquet (data/bench/ in the original runs), which the levers script
concatenated with the default vectors (``--spec 'doc={"tables": ["data/bench/vectors-doc-cbow_w50.parquet"]}'``;
that script is retired, see
experiments/corpus_levers.md for how to get it back). Results: experiments/corpus_levers.md.
"""

import argparse
import json
import time

import pyarrow as pa
import pyarrow.parquet as pq
from gensim.models import Word2Vec

from fewlabel import store
from fewlabel.config import DataConfig, PreprocessConfig
from fewlabel.corpora import read_mr
from fewlabel.dataset import split
from fewlabel.text import tokenize
from fewlabel.word2vec import stable_hash, vectors_table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("variants", help='JSON: {"name": {gensim Word2Vec parameters}, ...}')
    variants = json.loads(parser.parse_args().variants)
    reviews, labeled = read_mr()
    train, test = split(labeled, DataConfig())
    test_texts = set(test["text"].str.strip())
    reviews = reviews[~reviews["text"].str.strip().isin(test_texts)]
    docs = tokenize(pa.array(reviews["text"].tolist(), pa.string()), PreprocessConfig()).to_pylist()
    train_tokens = tokenize(pa.array(train["text"].tolist(), pa.string()), PreprocessConfig()).to_pylist()
    print(f"{len(docs)} reviews, {sum(map(len, docs))} words, longest {max(map(len, docs))}")
    for name, params in variants.items():
        t = time.perf_counter()
        params = {"vector_size": 300, "sample": 1e-4, "epochs": 20, **params}
        m = Word2Vec(docs + train_tokens, hashfxn=stable_hash, workers=1, seed=0, min_count=2, **params)
        path = store.data_dir() / "experiments" / f"vectors-doc-{name}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(vectors_table(m, m.vector_size), path)
        print(name, params, f"{time.perf_counter() - t:.0f} s", path, flush=True)


if __name__ == "__main__":
    main()
