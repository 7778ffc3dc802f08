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
    from fewlabel import store
    from fewlabel.config import DataConfig, PreprocessConfig
    from fewlabel.tasks.ingest import ingest
    from fewlabel.tasks.preprocess import preprocess
    from fewlabel.tasks.pretrain import pretrain
    from fewlabel.tasks.shard import shard

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


def test_a_large_vocabulary_is_saved_in_one_file(tmp_path):
    """gensim writes arrays of 10 Mi values or more (34,953 words at 300 dimensions: wv.vectors and
    syn1neg) to side files unless told not to; the pretrain artifact declares one file."""
    from gensim.models import Word2Vec

    from fewlabel.word2vec import load_own_model, save_model

    model = Word2Vec(vector_size=300, min_count=1, hashfxn=stable_hash)
    model.build_vocab([[f"w{i}" for i in range(36_000)]])
    save_model(model, tmp_path / "word2vec.model")
    assert [p.name for p in tmp_path.iterdir()] == ["word2vec.model"]
    np.testing.assert_array_equal(load_own_model(tmp_path / "word2vec.model").wv.vectors, model.wv.vectors)


def _incremental_inputs(tmp_path):
    from fewlabel import store
    from fewlabel.config import DataConfig, PreprocessConfig
    from fewlabel.tasks.ingest import ingest
    from fewlabel.tasks.preprocess import preprocess
    from fewlabel.tasks.shard import shard

    from .conftest import labeled_csv, unlabeled_txt, write

    first = unlabeled_txt(tmp_path / "shards" / "a.txt")
    second = write(tmp_path / "shards" / "b.txt", "\n".join(f"a brand newword story {i}" for i in range(12)) + "\n")
    config = DataConfig(source="files", labeled_path=str(labeled_csv(tmp_path / "l.csv")), unlabeled_path=str(first))
    ingested = ingest.fn(config)
    tokens = preprocess.fn(ingested, PreprocessConfig())
    test = store.narrow(ingested, "test.parquet")
    shards = [shard.fn(str(path), test, "text", "utf-8", PreprocessConfig()) for path in (first, second)]
    return tokens, shards


def test_update_continues_the_previous_model_on_new_shards_only(data_dir, tmp_path):
    import shutil

    from fewlabel import store
    from fewlabel.config import Config
    from fewlabel.orchestration.stage import code_version
    from fewlabel.tasks.pretrain import pretrain, pretrain_args
    from fewlabel.word2vec import previous_pretraining

    tokens, (a, b) = _incremental_inputs(tmp_path)
    config = Word2VecConfig(vector_size=8, epochs=2, update=True, sample=0)  # tiny text: no downsampling
    code = code_version("fewlabel.tasks.pretrain")
    assert previous_pretraining(tokens, [a], config, code) is None  # nothing built yet
    first = pretrain.fn(tokens, [a], config)
    assert "incremental" not in first["stats"]

    previous = previous_pretraining(tokens, [a, b], config, code)
    assert previous["key"] == first["key"]
    refs = {"preprocess": tokens, "shard": [a, b]}
    assert pretrain_args(None, refs, Config(word2vec=config))["previous"]["key"] == first["key"]
    assert pretrain_args(None, refs, Config(word2vec=config.model_copy(update={"update": False})))["previous"] is None
    import prefect.runtime.flow_run

    for start, retrains in (("pretrain", True), ("ingest", True), ("vectorize", False)):
        with pytest.MonkeyPatch.context() as patch:  # inside a flow run started with --from-stage START
            patch.setattr(prefect.runtime.flow_run, "parameters", {"from_stage": start}, raising=False)
            assert (pretrain_args(None, refs, Config(word2vec=config))["previous"] is None) is retrains
    # not a continuation: other Word2Vec settings, the same shards, a shard missing, other training text
    assert previous_pretraining(tokens, [a, b], config.model_copy(update={"vector_size": 9}), code) is None
    assert previous_pretraining(tokens, [a], config, code) is None
    assert previous_pretraining(tokens, [b], config, code) is None
    assert previous_pretraining({**tokens, "sha256": "0" * 64}, [a, b], config, code) is None
    assert previous_pretraining(tokens, [a, b], config, "another code version") is None

    updated = pretrain.fn(tokens, [a, b], config, previous)
    stats = updated["stats"]["incremental"]
    assert stats["from"]["key"] == first["key"] and [s["sha256"] for s in stats["new_shards"]] == [b["sha256"]]
    assert stats["new_sentences"] == 12 and stats["words_added"] >= 2  # 'brand' and 'newword'
    assert updated["lineage"]["params"]["previous"] == {"artifact": "pretrain", "sha256": first["sha256"]}
    assert updated["stats"]["corpus_sentences"] == first["stats"]["corpus_sentences"] + 12
    old = store.read_table(first, "vectors.parquet").to_pydict()
    new = store.read_table(updated, "vectors.parquet").to_pydict()
    assert {"brand", "newword"} <= set(new["token"]) - set(old["token"])
    counts = dict(zip(new["token"], new["count"]))
    assert counts["story"] == dict(zip(old["token"], old["count"]))["story"] + 12  # counts accumulate
    assert new["vector"][new["token"].index("story")] != old["vector"][old["token"].index("story")]  # trained on
    assert updated["files"]["baseline_vectors.parquet"] == first["files"]["baseline_vectors.parquet"]

    # reproducible: the same previous artifact and new shard give the same bytes
    shutil.rmtree(store.data_dir() / updated["path"])
    again = pretrain.fn(tokens, [a, b], config, previous)
    assert again["key"] == updated["key"] and again["files"] == updated["files"]

    # a previous artifact whose model was altered on disk is refused, never unpickled
    shutil.rmtree(store.data_dir() / updated["path"])
    (store.data_dir() / first["path"] / "word2vec.model").write_bytes(b"not the model fewlabel wrote")
    with pytest.raises(store.CorruptArtifact, match="altered"):
        pretrain.fn(tokens, [a, b], config, previous)
    assert previous_pretraining(tokens, [a, b], config, code) is None


RARE = SENTENCES + [["goodish", "filmic", "story"]]  # two words seen once: below min_count=2


def test_fasttext_table_adds_the_corpus_words_below_min_count_from_their_ngrams():
    from fewlabel.word2vec import rare_words

    config = Word2VecConfig(vector_size=8, epochs=2, model="fasttext", workers=1)
    model = fit_word2vec(RARE, config)
    assert type(model).__name__ == "FastText" and set(model.wv.index_to_key) == {
        "good", "film", "great", "story", "bad", "awful"
    }  # fmt: skip
    assert rare_words(model) == [("filmic", 1), ("goodish", 1)]
    table = vectors_table(model, 8).to_pydict()
    assert table["token"][:6] == model.wv.index_to_key and table["token"][6:] == ["filmic", "goodish"]
    assert table["count"][6:] == [1, 1] and table["count"][table["token"].index("story")] == 41
    for word in ("filmic", "goodish", "film"):  # subword vectors for the rare words, trained ones for the rest
        np.testing.assert_allclose(table["vector"][table["token"].index(word)], model.wv.get_vector(word), rtol=1e-6)
    assert np.abs(np.array(table["vector"][6:])).sum() > 0
    # Word2Vec has no vector for a word below min_count: its table is the vocabulary alone
    plain = vectors_table(fit_word2vec(RARE, config.model_copy(update={"model": "word2vec"})), 8)
    assert set(plain["token"].to_pylist()) == set(model.wv.index_to_key)
    # reproducible
    again = vectors_table(fit_word2vec(RARE, config), 8).to_pydict()
    assert again == table
    # rare_words=false: FastText's vocabulary alone, the same vectors
    alone = vectors_table(fit_word2vec(RARE, config.model_copy(update={"rare_words": False})), 8).to_pydict()
    assert alone["token"] == table["token"][:6] and alone["vector"] == table["vector"][:6]


def test_fasttext_corpus_file_mode_keeps_the_rare_words(tmp_path):
    lines = tmp_path / "corpus.txt"
    lines.write_text("\n".join(" ".join(s) for s in RARE) + "\n")
    config = Word2VecConfig(vector_size=8, epochs=2, model="fasttext", workers=1)
    a = vectors_table(fit_word2vec(None, config, corpus_file=lines), 8).to_pydict()
    b = vectors_table(fit_word2vec(None, config, corpus_file=lines), 8).to_pydict()
    assert a["token"][-2:] == ["filmic", "goodish"] and a == b


def test_a_fasttext_model_is_saved_in_one_file_without_its_corpus_counts(tmp_path):
    """At 300 dimensions the 200,000 n-gram buckets are 60 Mi values: past gensim's side-file threshold."""
    from fewlabel.word2vec import load_own_model, rare_words, save_model

    model = fit_word2vec(RARE, Word2VecConfig(vector_size=300, epochs=1, model="fasttext", workers=1))
    oov = model.wv.get_vector("filmish")
    save_model(model, tmp_path / "word2vec.model")
    assert [p.name for p in tmp_path.iterdir()] == ["word2vec.model"]
    loaded = load_own_model(tmp_path / "word2vec.model")
    assert type(loaded).__name__ == "FastText" and loaded.wv.vectors_ngrams.shape == (200_000, 300)
    np.testing.assert_array_equal(loaded.wv.vectors, model.wv.vectors)
    np.testing.assert_array_equal(loaded.wv.get_vector("filmish"), oov)  # subwords survive the round trip
    assert rare_words(loaded) == []  # the counts went to the vectors table, not into the model file


def test_pretrain_stage_with_fasttext(data_dir, tmp_path):
    from fewlabel import store
    from fewlabel.tasks.pretrain import pretrain

    tokens, (a, b) = _incremental_inputs(tmp_path)
    config = Word2VecConfig(vector_size=8, epochs=2, sample=0)
    plain = pretrain.fn(tokens, [a, b], config)
    sub = pretrain.fn(tokens, [a, b], config.model_copy(update={"model": "fasttext"}))
    assert sub["key"] != plain["key"]  # the model kind is in the cache key
    assert set(sub["files"]) == {"vectors.parquet", "baseline_vectors.parquet", "word2vec.model"}
    vocabulary = set(store.read_table(plain, "vectors.parquet")["token"].to_pylist())
    table = store.read_table(sub, "vectors.parquet")
    assert vocabulary < set(table["token"].to_pylist())  # plus the words seen once
    assert sub["stats"]["vocabulary"] == len(vocabulary)  # the stats count gensim's vocabulary
    # an incremental update continues a FastText model too (its table: the vocabulary, counts not kept)
    updated = pretrain.fn(tokens, [a, b, b], config.model_copy(update={"model": "fasttext", "update": True}), sub)
    assert updated["stats"]["incremental"]["new_sentences"] == 12


def test_rotation_recovers_an_orthogonal_map():
    from fewlabel.word2vec import rotation

    rng = np.random.default_rng(0)
    target = rng.normal(size=(50, 6))
    q, _ = np.linalg.qr(rng.normal(size=(6, 6)))
    np.testing.assert_allclose(rotation(target @ q.T, target), q, atol=1e-10)  # (target q^T) q = target


def test_a_seed_ensemble_of_one_is_the_single_model_and_of_three_the_mean_of_aligned_vectors():
    from fewlabel.word2vec import fit_ensemble, rotation

    config = Word2VecConfig(vector_size=8, epochs=2, seed=3, workers=1)
    single = vectors_table(fit_word2vec(RARE, config), 8)
    assert vectors_table(fit_ensemble(RARE, config), 8).equals(single)
    models = fit_ensemble(RARE, config.model_copy(update={"ensemble": 3}))
    assert [m.seed for m in models] == [3, 4, 5]
    table = vectors_table(models, 8)
    assert table["token"].to_pylist() == single["token"].to_pylist() and table["count"].equals(single["count"])
    base = models[0].wv.vectors.astype(np.float64)
    rotated = [base] + [m.wv.vectors @ rotation(m.wv.vectors, base) for m in models[1:]]
    expected = np.mean(rotated, axis=0)
    got = np.array(table["vector"].to_pylist())
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    # FastText: the rare words' subword vectors are rotated with the same map
    ft = fit_ensemble(RARE, config.model_copy(update={"ensemble": 2, "model": "fasttext"}))
    t = vectors_table(ft, 8).to_pydict()
    assert t["token"][-2:] == ["filmic", "goodish"]
    known = len(ft[0].wv)
    r = rotation(ft[1].wv.vectors, ft[0].wv.vectors)
    mean = (ft[0].wv.get_vector("filmic") + ft[1].wv.get_vector("filmic") @ r) / 2
    np.testing.assert_allclose(t["vector"][known], mean, rtol=1e-5, atol=1e-6)


def test_update_cannot_continue_an_ensemble():
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="ensemble"):
        Word2VecConfig(update=True, ensemble=2)


def test_pretrain_stage_with_a_seed_ensemble(data_dir, tmp_path):
    from fewlabel import store
    from fewlabel.tasks.pretrain import pretrain
    from fewlabel.word2vec import load_own_model

    tokens, (a, b) = _incremental_inputs(tmp_path)
    config = Word2VecConfig(vector_size=8, epochs=2, sample=0)
    seen = []
    import fewlabel.orchestration.progress as progress

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(progress.Tracker, "update", lambda self, step, total, s: seen.append((step, total)))
        three = pretrain.fn(tokens, [a, b], config.model_copy(update={"ensemble": 3}))
    one = pretrain.fn(tokens, [a, b], config)
    assert three["key"] != one["key"]
    assert seen[-1] == (6, 6) and len(seen) == 6  # 3 models x 2 epochs, reported as one count
    model = load_own_model(store.data_dir() / three["path"] / "word2vec.model")
    first = load_own_model(store.data_dir() / one["path"] / "word2vec.model")
    np.testing.assert_array_equal(model.wv.vectors, first.wv.vectors)  # the model file: seed 0's
    for name in ("vectors.parquet", "baseline_vectors.parquet"):
        a_table, b_table = store.read_table(three, name), store.read_table(one, name)
        assert a_table["token"].equals(b_table["token"]) and not a_table["vector"].equals(b_table["vector"])


def test_the_vocabulary_counted_while_writing_the_corpus_file_is_gensims_own(data_dir, tmp_path):
    """write_line_sentences counts the vocabulary with Arrow as it writes; fit_word2vec hands it to gensim
    instead of gensim's second, single-core read of the file. Same words, counts, order, sentence count
    (empty lines skipped, over-long lines cut into pieces as gensim's reader does) and so the same vectors."""
    import pyarrow as pa

    from fewlabel import store
    from fewlabel.corpus import write_line_sentences
    from fewlabel.word2vec import MAX_SENTENCE

    long = [f"w{i % 40}" for i in range(MAX_SENTENCE * 2 + 3)]
    rows = [*SENTENCES, [], long, *SENTENCES[::-1], ["good", "film"]]
    schema = pa.schema([("tokens", pa.list_(pa.string()))])
    refs = [
        store.materialize(
            "preprocess",
            key,
            lambda out, part=part: (
                store.write_table(out, "unlabeled.parquet", pa.table({"tokens": part}, schema)) or {}
            ),
        )
        for key, part in (("a", rows[:5]), ("b", rows[5:]))
    ]
    written = write_line_sentences(
        [(ref, "unlabeled.parquet") for ref in refs], tmp_path / "corpus.txt", MAX_SENTENCE, batch=3
    )
    assert (written.sentences, written.words, written.long) == (len(rows), sum(map(len, rows)), 1)
    config = Word2VecConfig(vector_size=8, epochs=2, workers=1)
    scanned = fit_word2vec(None, config, corpus_file=tmp_path / "corpus.txt")
    counted = fit_word2vec(None, config, corpus_file=tmp_path / "corpus.txt", vocabulary=written)
    assert written.pieces == scanned.corpus_count == counted.corpus_count == len(rows) - 1 + 2
    assert counted.corpus_total_words == scanned.corpus_total_words == written.words
    assert counted.wv.index_to_key == scanned.wv.index_to_key
    assert [counted.wv.get_vecattr(w, "count") for w in counted.wv.index_to_key] == [
        scanned.wv.get_vecattr(w, "count") for w in scanned.wv.index_to_key
    ]
    np.testing.assert_array_equal(counted.wv.vectors, scanned.wv.vectors)
    np.testing.assert_array_equal(counted.syn1neg, scanned.syn1neg)
