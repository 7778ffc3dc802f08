import numpy as np
import pytest
import skops.io as sio
from sklearn.linear_model import LogisticRegression

from fewlabel.config import ClassifierConfig, EvaluateConfig
from fewlabel.errors import UserError
from tasks.evaluate import compare, majority_label, score
from tasks.train import TRUSTED, dump_model, fit, load_model, make_classifier


def blobs(n=40, seed=0):
    rng = np.random.default_rng(seed)
    X = np.vstack([rng.normal(-2, 1, (n, 4)), rng.normal(2, 1, (n, 4))]).astype(np.float32)
    return X, np.array(["neg"] * n + ["pos"] * n, dtype=object)


@pytest.mark.parametrize("hidden, standardize", [((4,), True), ((8, 4), False)])
def test_classifier_learns_separable_data(hidden, standardize):
    X, y = blobs()
    config = ClassifierConfig(hidden_layer_sizes=hidden, standardize=standardize, alpha=0.01, max_iter=300,
                              learning_rate_init=0.01)
    model, _ = fit(X, y, config)
    assert (model.predict(X) == y).mean() > 0.95
    assert [name for name, _ in make_classifier(config).steps] == (["scale"] if standardize else []) + ["mlp"]
    assert model[-1].hidden_layer_sizes == hidden and model[-1].activation == "logistic"


def test_model_round_trip_through_skops_with_stable_bytes():
    X, y = blobs()
    model, _ = fit(X, y, ClassifierConfig(max_iter=50))
    data = dump_model(model)
    loaded = load_model(data, "m.skops")
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    np.testing.assert_array_equal(sio.loads(data, trusted=TRUSTED).predict_proba(X), model.predict_proba(X))
    assert dump_model(fit(X, y, ClassifierConfig(max_iter=50))[0]) == data  # same fit, same bytes


@pytest.mark.parametrize("payload, named", [
    (lambda X, y: LogisticRegression().fit(X, y), "LogisticRegression"),  # skops would trust it
    (lambda X, y: {"payload": np.random.default_rng(0)}, "Generator"),
])
def test_loader_refuses_types_fewlabel_never_writes(payload, named):
    X, y = blobs()
    with pytest.raises(UserError, match=f"refusing to load.*{named}|{named}.*refusing to load"):
        load_model(sio.dumps(payload(X, y)), "crafted.skops")


def test_loader_refuses_garbage_and_non_models():
    with pytest.raises(UserError, match="not a readable fewlabel model"):
        load_model(b"PK\x03\x04 not really a zip", "garbage.skops")
    with pytest.raises(UserError, match="holds a dict"):
        load_model(sio.dumps({"a": [1, 2]}), "dict.skops")


def test_majority_label_is_deterministic_on_ties():
    assert majority_label(["b", "a", "b", "a"]) == "a"
    assert majority_label(["b", "b", "a"]) == "b"


def test_score_and_compare_hand_computed():
    y = np.array(["a", "a", "b", "b"], dtype=object)
    good = np.array(["a", "a", "b", "a"], dtype=object)
    bad = np.array(["a", "b", "a", "a"], dtype=object)
    config = EvaluateConfig(bootstrap=500)
    s = score(y, good, config)
    assert s["accuracy"] == 0.75
    assert s["macro_f1"] == pytest.approx((0.8 + 2 / 3) / 2)
    c = compare(y, good, bad, config)
    assert c["accuracy_gain"] == 0.5
    assert c["mcnemar_p"] == pytest.approx(0.5)  # 2 discordant pairs, both for `good`
