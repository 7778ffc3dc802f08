import numpy as np
import pyarrow as pa
import pytest

from fewlabel.config import Word2VecConfig
from fewlabel.word2vec import fit_word2vec, stable_hash, vectors_table

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

    code = "from fewlabel.word2vec import stable_hash; print(stable_hash('film'), hash('film'))"
    outputs = [
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        ).stdout.split()
        for seed in ("1", "2")
    ]
    assert outputs[0][0] == outputs[1][0] == str(stable_hash("film"))
    assert outputs[0][1] != outputs[1][1]  # while Python's own hash differs


def test_too_small_corpus_gives_no_model_and_empty_table():
    assert fit_word2vec([["once"]], Word2VecConfig(min_count=2)) is None
    assert vectors_table(None, 4).num_rows == 0


def test_corpus_file_mode_matches_its_input_and_is_reproducible(tmp_path):
    lines = tmp_path / "corpus.txt"
    lines.write_text("\n".join(" ".join(s) for s in SENTENCES) + "\n")
    config = Word2VecConfig(vector_size=8, epochs=2, workers=1)
    a = fit_word2vec(None, config, corpus_file=lines)
    b = fit_word2vec(None, config, corpus_file=lines)
    assert set(a.wv.index_to_key) == {"good", "film", "great", "story", "bad", "awful"}
    assert a.corpus_count == len(SENTENCES)
    np.testing.assert_array_equal(a.wv.vectors, b.wv.vectors)


def test_pretrain_stage_uses_corpus_file_above_the_threshold(data_dir, tmp_path):
    from fewlabel.tasks.ingest import ingest
    from fewlabel.tasks.preprocess import preprocess
    from fewlabel.tasks.pretrain import pretrain
    from fewlabel.tasks.shard import shard

    from fewlabel import store
    from fewlabel.config import DataConfig, PreprocessConfig

    from .conftest import labeled_csv, unlabeled_txt

    unlabeled = unlabeled_txt(tmp_path / "u.txt")
    config = DataConfig(
        source="files", labeled_path=str(labeled_csv(tmp_path / "l.csv")), unlabeled_path=str(unlabeled)
    )
    ingested = ingest.fn(config)
    tokens = preprocess.fn(ingested, PreprocessConfig())
    shards = [shard.fn(str(unlabeled), store.narrow(ingested, "test.parquet"), "text", "utf-8", PreprocessConfig())]
    streamed = pretrain.fn(tokens, shards, Word2VecConfig(vector_size=8, epochs=2, corpus_file_from=0))
    in_memory = pretrain.fn(tokens, shards, Word2VecConfig(vector_size=8, epochs=2))
    for ref in (streamed, in_memory):
        assert ref["stats"]["corpus_sentences"] == 46 and ref["stats"]["corpus_words"] > 200
    assert not list(store.data_dir().glob("tmp*"))  # the LineSentence file is gone
    vocab = {
        name: set(store.read_table(r, "vectors.parquet")["token"].to_pylist())
        for name, r in (("streamed", streamed), ("in_memory", in_memory))
    }
    assert vocab["streamed"] == vocab["in_memory"]


def test_a_line_longer_than_gensim_takes_trains_every_token():
    from fewlabel.word2vec import MAX_SENTENCE, chunked

    long = [f"w{i % 50}" for i in range(MAX_SENTENCE * 2 + 7)] + ["tail"]
    pieces, cut = chunked([long, ["short", "one"]])
    assert cut == 1 and [len(p) for p in pieces] == [MAX_SENTENCE, MAX_SENTENCE, 8, 2]
    assert sum(pieces[:3], []) == long  # nothing lost, order kept
    from gensim.models import Word2Vec

    config = Word2VecConfig(vector_size=8, epochs=1, min_count=1, workers=1, sample=0)
    trained = fit_word2vec([long], config)
    untrained = Word2Vec(vector_size=8, min_count=1, seed=0, hashfxn=stable_hash, sample=0)
    untrained.build_vocab([long])
    # past the 10,000th token: gensim alone would have left its vector as initialized
    assert not np.allclose(trained.wv["tail"], untrained.wv["tail"])
