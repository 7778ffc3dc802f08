import numpy as np
import pyarrow as pa
import pytest

from fewlabel.config import Word2VecConfig
from tasks.pretrain import fit_word2vec, stable_hash, vectors_table

SENTENCES = [["good", "film", "great", "story"], ["bad", "film", "awful", "story"]] * 20


@pytest.mark.parametrize("sg, dim", [(0, 8), (1, 12)])
def test_vectors_table_schema(sg, dim):
    model = fit_word2vec(SENTENCES, Word2VecConfig(vector_size=dim, epochs=2, sg=sg))
    table = vectors_table(model, dim)
    assert table.schema.field("vector").type == pa.list_(pa.float32(), dim)
    assert table.schema.field("count").type == pa.int64()
    assert set(table["token"].to_pylist()) == {"good", "film", "great", "story", "bad", "awful"}
    assert dict(zip(table["token"].to_pylist(), table["count"].to_pylist()))["film"] == 40


def test_same_seed_same_vectors_and_progress_reported():
    config = Word2VecConfig(vector_size=8, epochs=3, seed=7, workers=1)
    seen = []
    a = fit_word2vec(SENTENCES, config, report=lambda e, n, s: seen.append((e, n)))
    b = fit_word2vec(SENTENCES, config)
    np.testing.assert_array_equal(a.wv.vectors, b.wv.vectors)
    assert seen == [(1, 3), (2, 3), (3, 3)]


def test_stable_hash_does_not_depend_on_python_hash_seed():
    import os
    import subprocess
    import sys

    code = "from tasks.pretrain import stable_hash; print(stable_hash('film'), hash('film'))"
    outputs = [
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                       env={**os.environ, "PYTHONHASHSEED": seed}).stdout.split()
        for seed in ("1", "2")
    ]
    assert outputs[0][0] == outputs[1][0] == str(stable_hash("film"))
    assert outputs[0][1] != outputs[1][1]  # while Python's own hash differs


def test_too_small_corpus_gives_no_model_and_empty_table():
    assert fit_word2vec([["once"]], Word2VecConfig(min_count=2)) is None
    assert vectors_table(None, 4).num_rows == 0
