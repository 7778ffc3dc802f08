import numpy as np
import pyarrow as pa
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.utils import estimator_checks as checks

from fewlabel.transformer import AveragedWordVectors
from fewlabel.vectors import _average_into, average, embedding

VOCAB = pa.array(["a", "b", "c"])
W = np.array([[1, 0], [0, 1], [2, 2]], dtype=np.float32)


@pytest.mark.parametrize(
    "tokens, expected, known",
    [
        (["a"], [1, 0], 1),
        (["a", "b"], [0.5, 0.5], 2),
        (["a", "a", "c"], [4 / 3, 2 / 3], 3),
        (["a", "zzz"], [1, 0], 1),
        (["zzz"], [0, 0], 0),
        ([], [0, 0], 0),
    ],
)
def test_average_matches_hand_computed(tokens, expected, known):
    vectors, counts = average(pa.array([tokens], pa.list_(pa.string())), VOCAB, W)
    np.testing.assert_allclose(vectors[0], expected, rtol=1e-6)
    assert counts[0] == known


def test_average_equals_a_python_loop_on_random_data():
    rng = np.random.default_rng(0)
    vocab = [f"w{i}" for i in range(50)]
    matrix = rng.normal(size=(50, 6)).astype(np.float32)
    sentences = [[f"w{j}" for j in rng.integers(0, 70, rng.integers(0, 12))] for _ in range(200)]
    got, _ = average(pa.array(sentences, pa.list_(pa.string())), pa.array(vocab), matrix)
    index = {w: i for i, w in enumerate(vocab)}
    for row, sentence in zip(got, sentences):
        ids = [index[w] for w in sentence if w in index]
        np.testing.assert_allclose(row, matrix[ids].mean(axis=0) if ids else 0, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_average_over_many_blocks_and_threads_equals_one_block(monkeypatch, threads):
    rng = np.random.default_rng(1)
    matrix = rng.normal(size=(40, 5)).astype(np.float32)
    sentences = [[f"w{j}" for j in rng.integers(0, 50, rng.integers(0, 9))] for _ in range(101)]
    tokens = pa.chunked_array(
        [pa.array(sentences[:60], pa.list_(pa.string())), pa.array(sentences[60:], pa.list_(pa.string()))]
    )
    vocab, weights = pa.array([f"w{i}" for i in range(40)]), rng.uniform(0.1, 1, 40).astype(np.float32)
    whole, whole_counts = average(tokens, vocab, matrix, weights)
    monkeypatch.setattr("fewlabel.vectors.BLOCK", 7)  # 15 to 18 pieces, some across the chunk boundary
    monkeypatch.setattr("fewlabel.vectors.MIN_PIECE", 5)
    calls = []
    monkeypatch.setattr(
        "fewlabel.vectors._average_into", lambda piece, *rest: calls.append(len(piece)) or _average_into(piece, *rest)
    )
    blocked, blocked_counts = average(tokens, vocab, matrix, weights, threads=threads)
    np.testing.assert_array_equal(blocked, whole)
    np.testing.assert_array_equal(blocked_counts, whole_counts)
    assert blocked.shape == (101, 5) and whole_counts.sum() > 0
    assert sum(calls) == 101 and max(calls) <= 7 and len(calls) >= 15


def test_empty_vocabulary_gives_zero_vectors():
    empty = pa.table(
        {"token": pa.array([], pa.string()), "vector": pa.FixedSizeListArray.from_arrays(pa.array([], pa.float32()), 3)}
    )
    vocab, matrix = embedding(empty)
    vectors, counts = average(pa.array([["a"]], pa.list_(pa.string())), vocab, matrix)
    assert vectors.shape == (1, 3) and not vectors.any() and counts[0] == 0


@pytest.fixture
def vectors_file(tmp_path):
    import pyarrow.parquet as pq

    path = tmp_path / "vectors.parquet"
    pq.write_table(
        pa.table(
            {"token": VOCAB, "count": [3, 2, 1], "vector": pa.FixedSizeListArray.from_arrays(pa.array(W.ravel()), 2)}
        ),
        path,
    )
    return path


def test_transformer_in_a_pipeline(vectors_file):
    texts = ["A a", "b B", "a c", "b c"] * 5
    labels = ["x", "y", "x", "y"] * 5
    pipe = make_pipeline(AveragedWordVectors(str(vectors_file)), LogisticRegression()).fit(texts, labels)
    assert list(pipe.predict(["a", "b"])) == ["x", "y"]
    out = AveragedWordVectors(str(vectors_file)).fit().transform(["A, b!", ["c"], "nothing known"])
    np.testing.assert_allclose(out, [[0.5, 0.5], [2, 2], [0, 0]])
    assert out.dtype == np.float32


def test_transformer_accepts_gensim_keyed_vectors():
    from gensim.models import KeyedVectors

    kv = KeyedVectors(vector_size=2)
    kv.add_vectors(["a", "b", "c"], W)
    np.testing.assert_allclose(AveragedWordVectors(kv).fit().transform(["a b"]), [[0.5, 0.5]])


def test_transformer_unfitted_and_missing_vectors(vectors_file):
    with pytest.raises(NotFittedError):
        AveragedWordVectors(str(vectors_file)).transform(["a"])
    with pytest.raises(ValueError, match="needs vectors"):
        AveragedWordVectors().fit(["a"])
    fitted = AveragedWordVectors(str(vectors_file)).fit()
    assert not hasattr(clone(fitted), "embedding_")


@pytest.mark.parametrize(
    "check",
    [
        checks.check_no_attributes_set_in_init,
        checks.check_get_params_invariance,
        checks.check_set_params,
        checks.check_estimator_repr,
        checks.check_estimator_cloneable,
        checks.check_do_not_raise_errors_in_init_or_set_params,
        checks.check_parameters_default_constructible,
        checks.check_mixin_order,
        checks.check_valid_tag_types,
    ],
)
def test_scikit_learn_checks_that_apply_to_text_input(check):
    """scikit-learn skips its data checks for string input; the API checks still apply."""
    check(AveragedWordVectors.__name__, AveragedWordVectors())


# --- weighting, pooling and the common component ---------------------------------------------

from fewlabel.config import VectorizeConfig  # noqa: E402
from fewlabel.vectors import (  # noqa: E402
    extrema,
    first_component,
    fit_component,
    remove_component,
    sentence_vectors,
    word_weights,
)

COUNTS = np.array([6, 3, 1])  # p = 0.6, 0.3, 0.1
MEAN = VectorizeConfig(weighting="mean", remove_component=False, pooling="mean", unit_vectors=False)


@pytest.mark.parametrize(
    "weighting, a, expected",
    [
        ("sif", 0.1, [0.1 / 0.7, 0.1 / 0.4, 0.1 / 0.2]),
        ("sif", 1.0, [1 / 1.6, 1 / 1.3, 1 / 1.1]),
        ("tfidf", 1e-3, [np.log(1 / 0.6), np.log(1 / 0.3), np.log(1 / 0.1)]),
    ],
)
def test_word_weights_hand_computed(weighting, a, expected):
    np.testing.assert_allclose(word_weights(COUNTS, weighting, a), expected, rtol=1e-6)


def test_word_weights_mean_is_none_and_unknown_is_refused():
    assert word_weights(COUNTS, "mean") is None
    with pytest.raises(ValueError, match="unknown weighting"):
        word_weights(COUNTS, "median")


@pytest.mark.parametrize(
    "tokens, expected",
    [
        (["a"], [1 / 7, 0]),  # sif a=0.1: weight of a is 0.1/0.7, divided by 1 known token
        (["a", "b"], [(1 / 7) / 2, (1 / 4) / 2]),
        (["a", "c", "zzz"], [(1 / 7 + 2 * 0.5) / 2, (2 * 0.5) / 2]),
        (["zzz"], [0, 0]),
    ],
)
def test_sif_average_hand_computed(tokens, expected):
    weights = word_weights(COUNTS, "sif", 0.1)
    vectors, _ = average(pa.array([tokens], pa.list_(pa.string())), VOCAB, W, weights)
    np.testing.assert_allclose(vectors[0], expected, rtol=1e-5)


@pytest.mark.parametrize(
    "tokens, maxima, minima",
    [
        (["a", "b"], [1, 1], [0, 0]),
        (["a", "c", "zzz"], [2, 2], [1, 0]),
        (["b"], [0, 1], [0, 1]),
        (["zzz"], [0, 0], [0, 0]),
        ([], [0, 0], [0, 0]),
    ],
)
def test_extrema_hand_computed(tokens, maxima, minima):
    got = extrema(pa.array([["c"], tokens, ["a"]], pa.list_(pa.string())), VOCAB, W, ("max", "min"))
    np.testing.assert_allclose(got[1], maxima + minima)
    np.testing.assert_allclose(got[0], [2, 2, 2, 2])  # neighbours unaffected
    np.testing.assert_allclose(got[2], [1, 0, 1, 0])


def test_extrema_equal_a_python_loop_on_random_data():
    rng = np.random.default_rng(1)
    vocab = [f"w{i}" for i in range(30)]
    matrix = rng.normal(size=(30, 4)).astype(np.float32)
    sentences = [[f"w{j}" for j in rng.integers(0, 40, rng.integers(0, 8))] for _ in range(100)]
    got = extrema(pa.array(sentences, pa.list_(pa.string())), pa.array(vocab), matrix, ("max", "min"))
    index = {w: i for i, w in enumerate(vocab)}
    for row, sentence in zip(got, sentences):
        ids = [index[w] for w in sentence if w in index]
        want = np.r_[matrix[ids].max(axis=0), matrix[ids].min(axis=0)] if ids else np.zeros(8)
        np.testing.assert_allclose(row, want)


def test_first_component_and_its_removal():
    vectors = np.array([[3, 0], [-2, 0], [1, 0.1], [0, 0]], np.float32)  # mostly along x; one zero row
    u = first_component(vectors)
    assert u[0] > 0.99 and abs(np.linalg.norm(u) - 1) < 1e-6
    removed = remove_component(vectors, np.array([1, 0], np.float32))
    np.testing.assert_allclose(removed, [[0, 0], [0, 0], [0, 0.1], [0, 0]], atol=1e-7)
    assert not first_component(np.zeros((3, 2), np.float32)).any()


@pytest.mark.parametrize("pooling, dim", [("mean", 2), ("mean_max", 4), ("mean_max_min", 6)])
def test_sentence_vectors_dimension_and_mean_part(pooling, dim):
    tokens = pa.array([["a", "b"], ["zzz"]], pa.list_(pa.string()))
    got, known = sentence_vectors(tokens, VOCAB, W, COUNTS, MEAN.model_copy(update={"pooling": pooling}))
    assert got.shape == (2, dim) and got.dtype == np.float32 and list(known) == [2, 0]
    np.testing.assert_allclose(got[0, :2], [0.5, 0.5])
    assert not got[1].any()


def test_sentence_vectors_component_comes_from_the_fitting_text_only():
    config = VectorizeConfig(weighting="sif", sif_a=0.1, remove_component=True)
    fitting = pa.array([["a"], ["a", "a"], ["c"]], pa.list_(pa.string()))
    u = fit_component(fitting, VOCAB, W, COUNTS, config)
    other = fit_component(pa.array([["b"]], pa.list_(pa.string())), VOCAB, W, COUNTS, config)
    assert not np.allclose(u, other)  # it depends on the text it is fitted on, nothing else
    got, _ = sentence_vectors(pa.array([["a", "b"]], pa.list_(pa.string())), VOCAB, W, COUNTS, config, u)
    assert abs(float(got[0, :2] @ u)) < 1e-6
    assert fit_component(fitting, VOCAB, W, COUNTS, MEAN) is None


def test_sentence_vectors_weighting_needs_counts():
    with pytest.raises(ValueError, match="needs word counts"):
        sentence_vectors(pa.array([["a"]], pa.list_(pa.string())), VOCAB, W, None, VectorizeConfig(weighting="sif"))


def test_transformer_weighting_pooling_and_component_match_the_stage_functions(vectors_file):
    config = VectorizeConfig(weighting="sif", sif_a=0.1, remove_component=True, pooling="mean_max")
    fit_texts = [["a"], ["a", "c"], ["b", "c"]]
    transformer = AveragedWordVectors(
        str(vectors_file), weighting="sif", sif_a=0.1, remove_component=True, pooling="mean_max"
    ).fit(fit_texts)
    arr = pa.array(fit_texts, pa.list_(pa.string()))
    u = fit_component(arr, VOCAB, W, np.array([3, 2, 1]), config)
    np.testing.assert_allclose(transformer.component_, u, rtol=1e-5)
    want, _ = sentence_vectors(pa.array([["a", "b"]], pa.list_(pa.string())), VOCAB, W, np.array([3, 2, 1]), config, u)
    got = transformer.transform(["a b"])
    assert got.shape == (1, 4) and transformer.n_features_out_ == 4
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="texts passed to fit"):
        AveragedWordVectors(str(vectors_file), remove_component=True).fit()


def test_transformer_sif_needs_counts():
    from gensim.models import KeyedVectors

    kv = KeyedVectors(vector_size=2)
    kv.add_vectors(["a", "b", "c"], W)
    with pytest.raises(ValueError, match="needs word counts"):
        AveragedWordVectors(kv, weighting="sif").fit()


def test_sentence_vectors_unit_vectors():
    tokens = pa.array([["a", "c"]], pa.list_(pa.string()))
    got, _ = sentence_vectors(
        tokens, VOCAB, W, COUNTS, MEAN.model_copy(update={"unit_vectors": True, "pooling": "mean_max"})
    )
    r = 1 / np.sqrt(2)
    np.testing.assert_allclose(got[0], [(1 + r) / 2, r / 2, 1, r], rtol=1e-6)


def test_component_is_fitted_on_a_bounded_seeded_sample():
    rng = np.random.default_rng(0)
    sentences = pa.array(
        [[VOCAB[int(i)].as_py() for i in rng.integers(0, 3, 4)] for _ in range(500)], pa.list_(pa.string())
    )
    config = VectorizeConfig(weighting="sif", remove_component=True)
    full = fit_component(sentences, VOCAB, W, COUNTS, config)
    sampled = fit_component(sentences, VOCAB, W, COUNTS, config, sample=100)
    np.testing.assert_array_equal(sampled, fit_component(sentences, VOCAB, W, COUNTS, config, sample=100))
    assert abs(float(full @ sampled)) > 0.99  # the same direction from a fifth of the text


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_component_removed_piece_by_piece_equals_removal_on_the_whole(monkeypatch, threads):
    """average(component=u) removes u in each piece; the result is bit-identical to remove_component on
    the whole average, whatever the pieces and threads, and orthogonal to u (a per-sentence loop agrees)."""
    rng = np.random.default_rng(3)
    vocab = pa.array([f"w{i}" for i in range(40)])
    matrix = (rng.normal(size=(40, 7)) + 1.5).astype(np.float32)  # a strong common direction
    sentences = [[f"w{j}" for j in rng.integers(0, 50, rng.integers(0, 9))] for _ in range(103)]
    tokens = pa.array(sentences, pa.list_(pa.string()))
    weights = rng.uniform(0.1, 1, 40).astype(np.float32)
    plain, _ = average(tokens, vocab, matrix, weights)
    u = first_component(plain)
    want = remove_component(plain, u)
    monkeypatch.setattr("fewlabel.vectors.BLOCK", 7)
    monkeypatch.setattr("fewlabel.vectors.MIN_PIECE", 5)
    got, counts = average(tokens, vocab, matrix, weights, threads=threads, component=u)
    np.testing.assert_array_equal(got, want)
    assert np.abs(got @ u).max() < 1e-5 and np.abs(plain @ u).max() > 1  # it removed something
    index = {w: i for i, w in enumerate(vocab.to_pylist())}
    for row, sentence, known in zip(got, sentences, counts):
        ids = [index[w] for w in sentence if w in index]
        assert known == len(ids)
        v = weights[ids] @ matrix[ids] / len(ids) if ids else np.zeros(7, np.float32)
        np.testing.assert_allclose(row, v - (v @ u) * u, rtol=1e-5, atol=1e-5)


def test_first_component_in_blocks_equals_the_whole_gram_and_ignores_zero_rows():
    rng = np.random.default_rng(4)
    vectors = (rng.normal(size=(300, 6)) + [2, 0, 0, 0, 0, 1]).astype(np.float32)
    vectors[::7] = 0  # sentences without a known word
    _, eigenvectors = np.linalg.eigh(vectors[vectors.any(axis=1)].astype(np.float64).T @ vectors[vectors.any(axis=1)])
    want = eigenvectors[:, -1] * np.sign(eigenvectors[np.argmax(np.abs(eigenvectors[:, -1])), -1])
    for block in (1, 13, 300, 1000):
        np.testing.assert_allclose(first_component(vectors, block=block), want, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(
        first_component(vectors, block=13), first_component(vectors[vectors.any(axis=1)]), rtol=1e-6, atol=1e-7
    )
    pieces = [vectors[:100], vectors[100:100], vectors[100:250], vectors[250:]]  # blocks of 13 straddle them
    for block in (13, 50, 1000):
        np.testing.assert_array_equal(first_component(pieces, block=block), first_component(vectors, block=block))
        np.testing.assert_array_equal(
            principal_components(pieces, 3, block)[0], principal_components(vectors, 3, block)[0]
        )


@pytest.mark.parametrize("pooling", ["mean", "mean_max_min"])
def test_dictionary_encoded_tokens_read_from_parquet_give_the_same_vectors(data_dir, pooling):
    """The vectorize stage reads tokens dictionary-encoded (store.iter_batches(dictionary=...)); ids and
    vectors are bit-identical to the string form, with null lists, null tokens, unknown words, several
    row groups and batches that cut through them."""
    from fewlabel import store
    from fewlabel.vectors import _token_ids

    rng = np.random.default_rng(5)
    vocab = pa.array([f"w{i}" for i in range(30)])
    matrix = rng.normal(size=(30, 5)).astype(np.float32)
    counts = rng.integers(1, 100, 30)
    sentences = [[f"w{j}" for j in rng.integers(0, 40, rng.integers(0, 8))] for _ in range(250)]
    sentences[3], sentences[7] = None, ["w1", None, "w2"]
    tokens = pa.array(sentences, pa.list_(pa.string()))

    def build(out):
        with store.table_writer(
            out, "unlabeled.parquet", pa.schema([("row", pa.int64()), ("tokens", tokens.type)])
        ) as write:
            for start in range(0, 250, 100):  # three row groups, each with its own dictionary
                write(pa.table({"row": np.arange(start, min(start + 100, 250)), "tokens": tokens[start : start + 100]}))
        return {}

    ref = store.materialize("preprocess", "fewlabel-preprocess-dict", build)
    schema, batches = store.iter_batches(ref, "unlabeled.parquet", 64, ["row", "tokens"], ("tokens",))
    assert schema.field("tokens").type == tokens.type  # the file's schema, as written
    config = VectorizeConfig(pooling=pooling)
    component = np.ones(5, np.float32) / np.sqrt(5)
    want, want_known = sentence_vectors(tokens, vocab, matrix, counts, config, component)
    rows = []
    for table in batches:
        assert pa.types.is_dictionary(table["tokens"].type.value_type)
        assert table["tokens"].cast(tokens.type).to_pylist() == sentences[table["row"][0].as_py() :][: len(table)]
        piece = table["tokens"].combine_chunks()
        expected = _token_ids(piece.cast(tokens.type), vocab)
        for got, wanted in zip(_token_ids(piece, vocab), expected):
            np.testing.assert_array_equal(got, wanted)
        vectors, known = sentence_vectors(table["tokens"], vocab, matrix, counts, config, component)
        rows.append((vectors, known))
    np.testing.assert_array_equal(np.vstack([v for v, _ in rows]), want)
    np.testing.assert_array_equal(np.concatenate([k for _, k in rows]), want_known)
    assert want_known[7] == 2 and want_known[3] == 0


# --- uSIF (Ethayarajh 2018, as fse's uSIF) and the component fit from stored batches -------------

from fewlabel.vectors import (  # noqa: E402
    Common,
    common_of,
    common_table,
    fit_common,
    matrix_of,
    principal_components,
)

STRINGS = pa.list_(pa.string())

USIF = VectorizeConfig(weighting="usif", remove_component=True, usif_components=2)


def usif_reference(fitting, others, vocab, matrix, counts, k):
    """uSIF written out with numpy from the paper's and fse's formulas: p(w) from the counts, n the
    fitting text's tokens per sentence (rounded down), alpha the share of words with p(w) > 1 -
    (1 - 1/v)^n, a = (1 - alpha) / (alpha v / 2), weights a / (a/2 + p(w)); the weighted mean of
    each sentence's known words; the fitting text's first k right singular vectors u_i (a full SVD)
    and lambda_i = s_i^2 / sum of the k s_j^2; each vector minus sum_i lambda_i (v . u_i) u_i."""
    index = {w: i for i, w in enumerate(vocab)}
    p = np.asarray(counts, np.float64) / np.sum(counts)
    v = len(vocab)
    n = sum(len(s) for s in fitting) // len(fitting)
    alpha = np.mean(p > 1 - (1 - 1 / v) ** n)
    a = (1 - alpha) / (alpha * v / 2 + np.finfo(np.float32).eps)
    weights = a / (a / 2 + p)

    def means(sentences):
        rows = []
        for s in sentences:
            ids = [index[w] for w in s if w in index]
            rows.append(weights[ids] @ matrix[ids] / len(ids) if ids else np.zeros(matrix.shape[1]))
        return np.array(rows)

    _, s, vt = np.linalg.svd(means(fitting), full_matrices=False)
    lam = s[:k] ** 2 / np.sum(s[:k] ** 2)

    def removed(x):
        return x - ((x @ vt[:k].T) * lam) @ vt[:k]

    return n, weights, removed(means(fitting)), removed(means(others)), vt[:k], lam


@pytest.mark.parametrize("k", [1, 2, 3])
def test_usif_vectors_match_a_numpy_reference_on_a_small_vocabulary(k):
    rng = np.random.default_rng(7)
    vocab = [f"w{i}" for i in range(12)]
    matrix = (rng.normal(size=(12, 6)) + [1.5, 0, 0.5, 0, 0, 0]).astype(np.float32)
    counts = np.array([400, 200, 120, 60, 30, 20, 10, 6, 4, 2, 1, 1])
    fitting = [[f"w{j}" for j in rng.integers(0, 15, rng.integers(1, 9))] for _ in range(60)]
    others = [[f"w{j}" for j in rng.integers(0, 15, rng.integers(0, 7))] for _ in range(20)]
    config = USIF.model_copy(update={"usif_components": k})
    n, weights, want_fit, want_other, components, lam = usif_reference(fitting, others, vocab, matrix, counts, k)
    common = fit_component(pa.array(fitting, STRINGS), pa.array(vocab), matrix, counts, config)
    assert isinstance(common, Common) and common.length == n and 2 <= n <= 8
    np.testing.assert_allclose(word_weights(counts, "usif", length=n), weights, rtol=1e-6)
    assert not np.allclose(weights, weights[0])  # the weights depend on the word's frequency
    np.testing.assert_allclose(np.abs(common.components @ components.T), np.eye(k), atol=1e-5)  # same directions
    np.testing.assert_allclose(common.weights, lam, rtol=1e-5)
    got_fit, _ = sentence_vectors(pa.array(fitting, STRINGS), pa.array(vocab), matrix, counts, config, common)
    got_other, _ = sentence_vectors(pa.array(others, STRINGS), pa.array(vocab), matrix, counts, config, common)
    np.testing.assert_allclose(got_fit, want_fit, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(got_other, want_other, rtol=1e-4, atol=1e-5)
    if k > 1:  # the weights matter: SIF's removal of the first component alone gives other vectors
        first = Common(n, common.components[:1], np.ones(1, np.float32))
        sif, _ = sentence_vectors(pa.array(others, STRINGS), pa.array(vocab), matrix, counts, config, first)
        assert not np.allclose(sif, got_other, atol=1e-3)


def test_usif_weights_hand_computed():
    # v = 4 words, p = 0.5, 0.3, 0.15, 0.05; n = 2: threshold 1 - 0.75^2 = 0.4375, one word above it,
    # alpha = 1/4, a = (3/4) / (1/4 * 2) = 1.5, weights 1.5 / (0.75 + p)
    got = word_weights(np.array([50, 30, 15, 5]), "usif", length=2)
    np.testing.assert_allclose(got, 1.5 / (0.75 + np.array([0.5, 0.3, 0.15, 0.05])), rtol=1e-6)
    with pytest.raises(ValueError, match="mean sentence length"):
        word_weights(np.array([1, 2]), "usif")


def test_usif_needs_its_fit_and_fits_without_removal():
    tokens = pa.array([["a", "b"], ["c"]], STRINGS)
    with pytest.raises(ValueError, match="usif needs its fit"):
        sentence_vectors(tokens, VOCAB, W, COUNTS, USIF)
    with pytest.raises(ValueError, match="usif needs its fit"):
        sentence_vectors(tokens, VOCAB, W, COUNTS, USIF, np.array([1, 0], np.float32))
    bare = fit_component(tokens, VOCAB, W, COUNTS, USIF.model_copy(update={"remove_component": False}))
    assert bare.length == 1 and bare.components.shape == (0, 2) and len(bare.weights) == 0
    got, _ = sentence_vectors(tokens, VOCAB, W, COUNTS, USIF, bare)  # weighted means, nothing removed
    weights = word_weights(COUNTS, "usif", length=1)
    np.testing.assert_allclose(got, [(weights[0] * W[0] + weights[1] * W[1]) / 2, weights[2] * W[2]], rtol=1e-6)


def test_principal_components_are_the_svd_s_and_weighted_by_their_squared_singular_values():
    rng = np.random.default_rng(8)
    x = (rng.normal(size=(200, 5)) * [5, 3, 2, 1, 0.5]).astype(np.float32)
    components, weights = principal_components(x, 3)
    _, s, vt = np.linalg.svd(x.astype(np.float64), full_matrices=False)
    np.testing.assert_allclose(np.abs(np.sum(components * vt[:3], axis=1)), 1, atol=1e-6)
    np.testing.assert_allclose(weights, s[:3] ** 2 / np.sum(s[:3] ** 2), rtol=1e-5)
    assert principal_components(x, 9)[0].shape == (5, 5)  # no more than the dimensions
    assert principal_components(np.zeros((4, 5), np.float32), 3)[0].shape == (0, 5)


def test_components_table_round_trips_sif_and_usif():
    u = np.array([0.6, 0.8], np.float32)
    sif = common_table({"pretrained": u, "no_pretraining": -u})
    assert sif.column_names == ["arm", "vector"]  # SIF's file as it always was
    np.testing.assert_array_equal(common_of(sif, "no_pretraining"), -u)
    fitted = {
        "pretrained": Common(11, np.array([[0.6, 0.8], [0.8, -0.6]], np.float32), np.array([0.7, 0.3], np.float32)),
        "no_pretraining": Common(4, np.zeros((0, 2), np.float32), np.zeros(0, np.float32)),
    }
    table = common_table(fitted)
    for arm, want in fitted.items():
        got = common_of(table, arm)
        assert got.length == want.length
        np.testing.assert_array_equal(got.components, want.components)
        np.testing.assert_array_equal(got.weights, want.weights)


def stored_tokens(sentences, rows_per_group=100):
    """A preprocess-like artifact holding ``sentences`` in unlabeled.parquet, several row groups."""
    from fewlabel import store

    tokens = pa.array(sentences, STRINGS)

    def build(out):
        with store.table_writer(out, "unlabeled.parquet", pa.schema([("tokens", STRINGS)])) as write:
            for start in range(0, len(sentences), rows_per_group):
                write(pa.table({"tokens": tokens[start : start + rows_per_group]}))
        return {}

    return store.materialize("preprocess", f"fewlabel-preprocess-{len(sentences)}-{rows_per_group}", build), tokens


@pytest.mark.parametrize("config", [VectorizeConfig(), USIF, VectorizeConfig(weighting="tfidf", pooling="mean_max")])
@pytest.mark.parametrize("sample", [100, 1000])
def test_fit_from_stored_batches_equals_the_fit_on_strings(data_dir, config, sample):
    """The stage fits from dictionary-encoded Parquet batches (row groups with their own dictionaries,
    batches that cut through them); with or without a sample, it is bit-identical to the fit on
    the token strings held in memory."""
    from fewlabel import store

    rng = np.random.default_rng(9)
    vocab = pa.array([f"w{i}" for i in range(40)])
    matrix = (rng.normal(size=(40, 5)) + 1).astype(np.float32)
    counts = rng.integers(1, 100, 40)
    sentences = [[f"w{j}" for j in rng.integers(0, 50, rng.integers(0, 10))] for _ in range(250)]
    sentences[5], sentences[9] = None, ["w1", None, "w2"]
    ref, tokens = stored_tokens(sentences)
    batches = (t["tokens"] for t in store.iter_batches(ref, "unlabeled.parquet", 64, ["tokens"], ("tokens",))[1])
    got = fit_common(batches, 250, vocab, matrix, counts, config, sample=sample)
    want = fit_component(tokens, vocab, matrix, counts, config, sample=sample)
    if isinstance(want, Common):
        assert got.length == want.length
        np.testing.assert_array_equal(got.components, want.components)
        np.testing.assert_array_equal(got.weights, want.weights)
    else:
        np.testing.assert_array_equal(got, want)
    other = fit_component(tokens[:120], vocab, matrix, counts, config, sample=sample)
    assert not np.allclose(
        other[1] if isinstance(other, Common) else other, want[1] if isinstance(want, Common) else want
    )
    with pytest.raises(ValueError, match="not the 251 announced"):
        fit_common([tokens], 251, vocab, matrix, counts, config, sample=sample)


def test_fit_on_given_first_means_equals_the_whole_fit():
    """The stage's unlabeled lines are averaged once: their means stand in for the fit's first rows."""
    rng = np.random.default_rng(10)
    vocab = pa.array([f"w{i}" for i in range(30)])
    matrix = (rng.normal(size=(30, 4)) + 1).astype(np.float32)
    counts = rng.integers(1, 50, 30)
    tokens = pa.array([[f"w{j}" for j in rng.integers(0, 35, rng.integers(0, 8))] for _ in range(90)], STRINGS)
    config = VectorizeConfig(pooling="mean_max")
    whole = fit_component(tokens, vocab, matrix, counts, config)
    head, _ = sentence_vectors(tokens[:70], vocab, matrix, counts, config)
    given = fit_common([tokens[70:]], 90, vocab, matrix, counts, config, means=head[:, :4])
    np.testing.assert_array_equal(given, whole)
    tail, _ = sentence_vectors(tokens[70:], vocab, matrix, counts, config)
    pieces = [head[:30, :4], head[30:, :4], tail[:, :4]]  # every row given, in pieces: nothing left to stream
    np.testing.assert_array_equal(fit_common([], 90, vocab, matrix, counts, config, means=pieces), whole)
    assert np.abs(whole).max() > 0.1
    with pytest.raises(ValueError, match="stand in only"):
        fit_common([tokens[70:]], 90, vocab, matrix, counts, USIF, means=head[:, :4])
    with pytest.raises(ValueError, match="stand in only"):
        fit_common([tokens[70:]], 90, vocab, matrix, counts, config, sample=50, means=head[:, :4])


@pytest.mark.parametrize("threads", [1, 3])
def test_usif_removal_piece_by_piece_equals_removal_on_the_whole(monkeypatch, threads):
    rng = np.random.default_rng(11)
    vocab = pa.array([f"w{i}" for i in range(40)])
    matrix = (rng.normal(size=(40, 7)) + 1.5).astype(np.float32)
    tokens = pa.array([[f"w{j}" for j in rng.integers(0, 50, rng.integers(0, 9))] for _ in range(103)], STRINGS)
    weights = rng.uniform(0.1, 1, 40).astype(np.float32)
    plain, _ = average(tokens, vocab, matrix, weights)
    common = Common(3, *principal_components(plain, 3))
    want = remove_component(plain, common)
    monkeypatch.setattr("fewlabel.vectors.BLOCK", 7)
    monkeypatch.setattr("fewlabel.vectors.MIN_PIECE", 5)
    got, _ = average(tokens, vocab, matrix, weights, threads=threads, component=common)
    np.testing.assert_array_equal(got, want)
    lam, u = common.weights, common.components
    np.testing.assert_allclose(got, plain - ((plain @ u.T) * lam) @ u, rtol=1e-5, atol=1e-5)
    assert np.abs(got - plain).max() > 0.1


@pytest.mark.parametrize(
    "config",
    [
        VectorizeConfig(),
        USIF,
        VectorizeConfig(pooling="mean_max"),
        VectorizeConfig(weighting="usif", pooling="mean_max"),
    ],
)
def test_vectorize_stage_fits_on_unlabeled_and_training_text_and_predict_reproduces_it(data_dir, config):
    """The stage's component(s) come from the unlabeled and training lines (not the test split; its
    unlabeled lines averaged once), its vectors are those of fit_component + sentence_vectors on the
    same text, and predict's featurizer, reading components.parquet, gives the same vectors."""
    from fewlabel import store
    from fewlabel.predictor import pretrained_featurizer
    from fewlabel.tasks.vectorize import vectorize

    rng = np.random.default_rng(12)
    words = [f"w{i}" for i in range(30)]
    matrix = (rng.normal(size=(30, 6)) + [2, 0, 0, 1, 0, 0]).astype(np.float32)
    counts = np.sort(rng.integers(1, 500, 30))[::-1]

    def sentences(n, top=35):
        return [[f"w{j}" for j in rng.integers(0, top, rng.integers(1, 9))] for _ in range(n)]

    unlabeled, train, test = sentences(150), sentences(40), sentences(30, top=8)  # test: other words

    def preprocess(out):
        for name, rows in (("unlabeled", unlabeled), ("train", train), ("test", test)):
            table = pa.table(
                {
                    "label": pa.array(["x", "y"] * (len(rows) // 2), pa.string()),
                    "origin": pa.array([name] * len(rows), pa.string()),
                    "row": pa.array(np.arange(len(rows)), pa.int64()),
                    "tokens": pa.array(rows, STRINGS),
                }
            )
            store.write_table(out, f"{name}.parquet", table if name != "unlabeled" else table.drop(["label"]))
        return {}

    def pretrain(out):
        for name in ("vectors.parquet", "baseline_vectors.parquet"):
            store.write_table(
                out,
                name,
                pa.table(
                    {"token": words, "count": counts, "vector": pa.FixedSizeListArray.from_arrays(matrix.ravel(), 6)}
                ),
            )
        (out / "word2vec.model").write_bytes(b"")
        return {}

    pre = store.materialize("preprocess", "fewlabel-preprocess-usif", preprocess)
    vec = store.materialize("pretrain", "fewlabel-pretrain-usif", pretrain)
    ref = vectorize.fn(pre, [], vec, config)
    vocab = pa.array(words)
    fitted = fit_component(pa.array(unlabeled + train, STRINGS), vocab, matrix, counts, config)
    stored = common_of(store.read_table(ref, "components.parquet"), "pretrained")
    if isinstance(fitted, Common):
        assert stored.length == fitted.length and len(stored.weights) == config.usif_components
        np.testing.assert_array_equal(stored.components, fitted.components)
    else:
        np.testing.assert_array_equal(stored, fitted)
    want, _ = sentence_vectors(pa.array(unlabeled, STRINGS), vocab, matrix, counts, config, fitted)
    pooled = matrix_of(store.read_table(ref, "unlabeled.parquet"), "pretrained")
    np.testing.assert_array_equal(pooled, want)
    featurize = pretrained_featurizer(vec, ref, config)
    for split, rows in (("train", train), ("test", test)):
        stored_vectors = matrix_of(store.read_table(ref, f"{split}.parquet"), "pretrained")
        np.testing.assert_array_equal(featurize(pa.array(rows, STRINGS))[0], stored_vectors)
    test_fit = fit_component(pa.array(unlabeled + test, STRINGS), vocab, matrix, counts, config)
    assert not np.allclose(
        test_fit[1] if isinstance(test_fit, Common) else test_fit, stored[1] if isinstance(stored, Common) else stored
    )


def test_transformer_usif_matches_the_stage_functions(vectors_file):
    fit_texts = [["a"], ["a", "c"], ["b", "c"], ["a", "b", "c"]]
    transformer = AveragedWordVectors(str(vectors_file), weighting="usif", remove_component=True, usif_components=1)
    transformer.fit(fit_texts)
    config = VectorizeConfig(weighting="usif", remove_component=True, usif_components=1)
    want_common = fit_component(pa.array(fit_texts, STRINGS), VOCAB, W, np.array([3, 2, 1]), config)
    assert transformer.component_.length == want_common.length == 2
    want, _ = sentence_vectors(pa.array([["a", "b"]], STRINGS), VOCAB, W, np.array([3, 2, 1]), config, want_common)
    np.testing.assert_array_equal(transformer.transform(["a b"]), want)
    with pytest.raises(ValueError, match="weighting='usif' estimates"):
        AveragedWordVectors(str(vectors_file), weighting="usif").fit()
