import numpy as np
import pyarrow as pa
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.utils import estimator_checks as checks

from fewlabel.transformer import AveragedWordVectors
from tasks.vectorize import average, embedding

VOCAB = pa.array(["a", "b", "c"])
W = np.array([[1, 0], [0, 1], [2, 2]], dtype=np.float32)


@pytest.mark.parametrize("tokens, expected, known", [
    (["a"], [1, 0], 1),
    (["a", "b"], [0.5, 0.5], 2),
    (["a", "a", "c"], [4 / 3, 2 / 3], 3),
    (["a", "zzz"], [1, 0], 1),
    (["zzz"], [0, 0], 0),
    ([], [0, 0], 0),
])
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


def test_empty_vocabulary_gives_zero_vectors():
    empty = pa.table({"token": pa.array([], pa.string()),
                      "vector": pa.FixedSizeListArray.from_arrays(pa.array([], pa.float32()), 3)})
    vocab, matrix = embedding(empty)
    vectors, counts = average(pa.array([["a"]], pa.list_(pa.string())), vocab, matrix)
    assert vectors.shape == (1, 3) and not vectors.any() and counts[0] == 0


@pytest.fixture
def vectors_file(tmp_path):
    import pyarrow.parquet as pq

    path = tmp_path / "vectors.parquet"
    pq.write_table(pa.table({"token": VOCAB, "count": [3, 2, 1],
                             "vector": pa.FixedSizeListArray.from_arrays(pa.array(W.ravel()), 2)}), path)
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


@pytest.mark.parametrize("check", [
    checks.check_no_attributes_set_in_init,
    checks.check_get_params_invariance,
    checks.check_set_params,
    checks.check_estimator_repr,
    checks.check_estimator_cloneable,
    checks.check_do_not_raise_errors_in_init_or_set_params,
    checks.check_parameters_default_constructible,
    checks.check_mixin_order,
    checks.check_valid_tag_types,
])
def test_scikit_learn_checks_that_apply_to_text_input(check):
    """scikit-learn skips its data checks for string input; the API checks still apply."""
    check(AveragedWordVectors.__name__, AveragedWordVectors())
