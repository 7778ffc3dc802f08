"""Document-level Word2Vec variants for bench/levers_experiment.py: the MR reviews whole (not split
into lines, so a large window spans a review) + the 2,000 training sentences without labels, reviews
equal to a test sentence removed, as the curve's pretraining text otherwise.

Usage: .venv/bin/python bench/doc_word2vec.py '{"cbow_w50": {"sg": 0, "window": 50}}'
Writes data/bench/vectors-doc-<name>.parquet; then
    bench/levers_experiment.py --spec 'doc={"tables": ["data/bench/vectors-doc-cbow_w50.parquet"]}'
Results: bench/RESULTS.md, "Session 3".
"""
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402
from gensim.models import Word2Vec  # noqa: E402

from fewlabel.config import DataConfig, PreprocessConfig  # noqa: E402
from fewlabel.readers import read_mr  # noqa: E402
from tasks.ingest import split  # noqa: E402
from tasks.preprocess import tokenize  # noqa: E402
from tasks.pretrain import stable_hash, vectors_table  # noqa: E402

reviews, labeled = read_mr()
train, test = split(labeled, DataConfig())
test_texts = set(test["text"].str.strip())
reviews = reviews[~reviews["text"].str.strip().isin(test_texts)]
docs = tokenize(pa.array(reviews["text"].tolist(), pa.string()), PreprocessConfig()).to_pylist()
train_tokens = tokenize(pa.array(train["text"].tolist(), pa.string()), PreprocessConfig()).to_pylist()
print(f"{len(docs)} reviews, {sum(map(len, docs))} words, longest {max(map(len, docs))}")
for name, params in json.loads(sys.argv[1]).items():
    t = time.perf_counter()
    m = Word2Vec(docs + train_tokens, hashfxn=stable_hash, workers=1, seed=0, min_count=2,
                 **{"vector_size": 300, "sample": 1e-4, "epochs": 20, **params})
    path = f"data/bench/vectors-doc-{name}.parquet"
    pq.write_table(vectors_table(m, m.vector_size), path)
    print(name, params, f"{time.perf_counter() - t:.0f} s", path, flush=True)
