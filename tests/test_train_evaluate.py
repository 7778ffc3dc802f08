import numpy as np
import pytest
import skops.io as sio
from pydantic import ValidationError
from sklearn.naive_bayes import GaussianNB

from fewlabel.config import ClassifierConfig, EvaluateConfig
from fewlabel.errors import UserError
from fewlabel.metrics import compare, majority_label, score
from fewlabel.model import fit, fit_selected, make_classifier
from fewlabel.modelio import TRUSTED, dump_model, load_model


def blobs(n=40, seed=0, sep=2.0):
    rng = np.random.default_rng(seed)
    X = np.vstack([rng.normal(-sep, 1, (n, 4)), rng.normal(sep, 1, (n, 4))]).astype(np.float32)
    return X, np.array(["neg"] * n + ["pos"] * n, dtype=object)


@pytest.mark.parametrize("hidden, standardize", [((4,), True), ((8, 4), False)])
def test_classifier_learns_separable_data(hidden, standardize):
    X, y = blobs()
    config = ClassifierConfig(
        estimator={"hidden_layer_sizes": hidden, "alpha": 0.01, "max_iter": 300, "learning_rate_init": 0.01},
        standardize=standardize,
    )
    model, _ = fit(X, y, config)
    assert (model.predict(X) == y).mean() > 0.95
    assert [name for name, _ in make_classifier(config).steps] == ["normalize"] + (["scale"] if standardize else []) + [
        "mlp"
    ]
    assert model[-1].hidden_layer_sizes == hidden and model[-1].activation == "logistic"


def test_l2_normalize_makes_the_classifier_blind_to_vector_length():
    X, y = blobs(20, 3, sep=0.7)
    lengths = np.random.default_rng(0).uniform(0.05, 20, (len(X), 1)).astype(np.float32)
    normalized, _ = fit(X, y, ClassifierConfig())  # the default: Normalizer, StandardScaler, MLP
    assert [name for name, _ in normalized.steps] == ["normalize", "scale", "mlp"]
    np.testing.assert_allclose(normalized.predict_proba(X * lengths), normalized.predict_proba(X), atol=1e-6)
    np.testing.assert_allclose(
        fit(X * lengths, y, ClassifierConfig())[0].predict_proba(X), normalized.predict_proba(X), atol=1e-6
    )  # trained on rescaled rows: the same model
    plain, _ = fit(X, y, ClassifierConfig(l2_normalize=False))
    assert [name for name, _ in plain.steps] == ["scale", "mlp"]
    assert not np.allclose(plain.predict_proba(X * lengths), plain.predict_proba(X), atol=1e-3)


@pytest.mark.parametrize("seed", [0, 1])
def test_alpha_cap_per_row_rescues_tiny_training_sets(seed):
    X, y = blobs(2, seed)  # 2 per class: alpha=10 weighs 2.5 per row
    X_test, y_test = blobs(100, seed + 10)
    plain, _ = fit(X, y, ClassifierConfig(alpha_max_per_row=None))
    assert len(set(plain.predict(X_test))) == 1  # every weight shrunk to zero: one class
    capped, _, record = fit_selected(X, y, ClassifierConfig())  # the default cap, 0.3 per row
    assert capped[-1].alpha == record["alpha"] == pytest.approx(0.3 * 4)
    assert (capped.predict(X_test) == y_test).mean() > 0.9
    big, _, record = fit_selected(*blobs(40), ClassifierConfig(alpha_max_per_row=0.3))
    assert big[-1].alpha == record["alpha"] == 10.0  # 80 rows: the cap (24) does not bind


def test_cross_validated_alpha_comes_from_the_grid_and_the_training_rows_only():
    X, y = blobs(6, 1, sep=0.5)
    config = ClassifierConfig(alpha_grid=(0.1, 1, 10, 100), estimator={"max_iter": 80})
    model, _, record = fit_selected(X, y, config)
    assert record["folds"] == 5 and set(record["scores"]) == {0.1, 1, 10, 100}
    assert model[-1].alpha == record["alpha"] == max(record["scores"], key=lambda a: (record["scores"][a], a))
    assert record["alpha"] < 10  # the strong penalties predict one class on every held-out fold
    again, _, same = fit_selected(X.copy(), y.copy(), config)
    assert same == record
    np.testing.assert_array_equal(again.predict_proba(X), model.predict_proba(X))
    lone = fit_selected(X[:7], y[:7], config)[2]  # one "pos" row: no fold can hold it out
    assert lone == {"alpha": pytest.approx(0.3 * 7), "folds": 0, "scores": {}}  # the configured alpha, capped
    assert fit_selected(X[[0, 1, 6, 7]], y[[0, 1, 6, 7]], config)[2]["folds"] == 2  # 2 per class: 2 folds


def test_a_grid_of_one_alpha_is_the_plain_fit():
    X, y = blobs(10)
    one, _, record = fit_selected(X, y, ClassifierConfig(alpha_grid=(3.0,), estimator={"max_iter": 80}))
    plain, _ = fit(X, y, ClassifierConfig(estimator={"alpha": 3.0, "max_iter": 80}))
    assert record == {"alpha": 3.0, "folds": 0, "scores": {}}
    np.testing.assert_array_equal(one.predict_proba(X), plain.predict_proba(X))
    assert dump_model(one) == dump_model(plain)  # the stored model is the plain pipeline, nothing more


@pytest.mark.parametrize("bad", [{"cv_folds": 1}, {"alpha_max_per_row": 0}, {"alpha_grid": (1.0, -1.0)}])
def test_selection_options_are_validated(bad):
    with pytest.raises(ValidationError):
        ClassifierConfig(**bad)


def test_model_round_trip_through_skops_with_stable_bytes():
    X, y = blobs()
    model, _ = fit(X, y, ClassifierConfig(estimator={"max_iter": 50}))
    data = dump_model(model)
    loaded = load_model(data, "m.skops")
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    np.testing.assert_array_equal(sio.loads(data, trusted=TRUSTED).predict_proba(X), model.predict_proba(X))
    assert dump_model(fit(X, y, ClassifierConfig(estimator={"max_iter": 50}))[0]) == data  # same fit, same bytes


@pytest.mark.parametrize(
    "payload, named",
    [
        (lambda X, y: GaussianNB().fit(X, y), "GaussianNB"),  # skops would trust it
        (lambda X, y: {"payload": np.random.default_rng(0)}, "Generator"),
    ],
)
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


@pytest.mark.parametrize(
    ("gain", "ci", "p", "warns"),
    [
        (-0.14, [-0.30, -0.01], 0.01, True),  # below zero by both measures
        (-0.14, [-0.30, -0.01], 0.07, False),  # the interval says so, the exact test does not: no warning
        (-0.05, [-0.12, 0.02], 0.01, False),  # the interval includes zero
        (0.08, [0.03, 0.12], 0.001, False),  # the pretrained model did better
    ],
)
def test_the_report_warns_only_when_tfidf_lr_did_better_beyond_doubt(gain, ci, p, warns):
    from fewlabel.report import lexical_line, metrics_markdown

    line = lexical_line({"accuracy_gain": gain, "ci": ci, "mcnemar_p": p}, 0.95)
    assert line.startswith("**Warning: TF-IDF + logistic regression did better") is warns
    assert f"{100 * gain:+.1f} points" in line and f"{100 * ci[0]:+.1f} to {100 * ci[1]:+.1f}" in line
    method = {"accuracy": 0.5, "macro_f1": 0.5, "accuracy_ci": [0.4, 0.6], "n": 100}
    metrics = {
        "methods": {m: method for m in ("pretrained", "no_pretraining", "tfidf_lr", "majority")},
        "pretraining_vs_none": {"accuracy_gain": 0.0, "ci": [-0.1, 0.1], "mcnemar_p": 1.0},
        "pretrained_vs_lexical": {"accuracy_gain": gain, "ci": ci, "mcnemar_p": p},
        "confidence": 0.95,
    }
    report = metrics_markdown(metrics, "MLP")
    assert "| TF-IDF + logistic regression (the words alone, no unlabeled text) | 50.0% |" in report
    assert report.rstrip().endswith(line)


@pytest.mark.parametrize(
    ("unlabeled_rows", "shards", "said"), [(0, [], True), (5, [], False), (0, [{"file": "a.txt", "rows": 3}], False)]
)
def test_a_run_without_unlabeled_text_says_it_cannot_show_what_unlabeled_text_buys(unlabeled_rows, shards, said):
    from fewlabel.report import no_unlabeled_line

    summary = {"stats": {"ingest": {"unlabeled_rows": unlabeled_rows}, **({"shard": shards} if shards else {})}}
    line = no_unlabeled_line(summary)
    assert (line is not None) is said
    assert line is None or ("no unlabeled text" in line and "data.unlabeled_path" in line)


def test_the_lexical_baseline_is_the_curves_tfidf_lr():
    """The run's TF-IDF + LR and the learning curve's are one function: the same predictions."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    from fewlabel.lexical import fit_tfidf_lr

    train = [["may", "suggest", "x"], ["is", "shown"], ["whether", "may"], ["we", "show", "is"]] * 3
    y = ["hedge", "fact", "hedge", "fact"] * 3
    test = [["may", "we"], ["is", "x"], ["whether"], ["shown", "show"]]
    tfidf = TfidfVectorizer(analyzer=lambda t: t, sublinear_tf=True)
    lr = LogisticRegression(C=0.5, max_iter=2000).fit(tfidf.fit_transform(train), y)
    assert list(fit_tfidf_lr(train, y, 0.5).predict(test)) == list(lr.predict(tfidf.transform(test)))
    assert list(fit_tfidf_lr(train, y, 0.5).predict(test)) == ["hedge", "fact", "hedge", "fact"]


def test_every_kind_of_the_registry_fits_and_round_trips_through_the_allow_list():
    from fewlabel.classifiers import KINDS

    X, y = blobs()
    for kind in KINDS:
        config = ClassifierConfig(estimator={"kind": kind})
        model, _ = fit(X, y, config)
        assert [name for name, _ in model.steps][-1] == kind and (model.predict(X) == y).mean() > 0.9
        loaded = load_model(dump_model(model), f"{kind}.skops")
        np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))


def test_the_penalty_rule_sets_only_a_kind_that_has_a_penalty():
    X, y = blobs()
    _, _, record = fit_selected(X[:8], y[:8], ClassifierConfig())
    assert record["alpha"] == pytest.approx(0.3 * 8)  # the MLP's alpha, capped per row
    model, _, record = fit_selected(X, y, ClassifierConfig(estimator={"kind": "logistic", "C": 0.5}))
    assert record["alpha"] is None and model[-1].C == 0.5


def blas_threads() -> int:
    from threadpoolctl import threadpool_info

    return max(lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas")


def test_one_blas_thread_holds_until_the_last_thread_is_out():
    import threading

    from threadpoolctl import threadpool_limits

    from fewlabel.fitting import one_blas_thread

    def run(first_out: str) -> dict:
        entered, leave = threading.Event(), threading.Event()
        seen = {}

        def other():
            with one_blas_thread():
                entered.set()
                leave.wait(10)
                seen["other, last in"] = blas_threads()

        thread = threading.Thread(target=other)
        with one_blas_thread():
            seen["first in"] = blas_threads()
            thread.start()
            assert entered.wait(10)
            if first_out == "other":
                leave.set()
                thread.join()
        seen["first, out"] = blas_threads()
        leave.set()
        thread.join()
        seen["all out"] = blas_threads()
        return seen

    with threadpool_limits(2, user_api="blas"):  # a known starting point, whatever the machine
        # the first one in leaves first: the other one still fits on one thread
        assert {k: v for k, v in run("first").items() if k != "all out"} == {
            "first in": 1,
            "other, last in": 1,
            "first, out": 1,
        }
    with threadpool_limits(2, user_api="blas"):
        # the one that set the limit is the last out: restored
        assert run("other") == {"first in": 1, "other, last in": 1, "first, out": 2, "all out": 2}


def test_fits_run_on_one_blas_thread(monkeypatch):
    from sklearn.neural_network import MLPClassifier

    threads = []
    real = MLPClassifier.fit

    def recording(self, *args, **kwargs):
        threads.append(blas_threads())
        return real(self, *args, **kwargs)

    monkeypatch.setattr(MLPClassifier, "fit", recording)
    X, y = blobs(6)
    fit_selected(X, y, ClassifierConfig(estimator={"max_iter": 20}, alpha_grid=(0.1, 1.0), cv_folds=2))
    assert threads == [1] * 5  # 2 alphas x 2 folds, then the final fit


def test_progress_names_each_fit_and_reports_a_long_one_while_it_runs(caplog):
    import logging
    import time
    from types import SimpleNamespace

    from fewlabel.fitting import Progress

    with caplog.at_level(logging.INFO, logger="fewlabel.model"):
        with Progress("train: test arm", every=0.1) as progress:
            with progress.within("safeguard fold 2/3"):
                estimator = SimpleNamespace(n_iter_=7)
                with progress.fitting("slow MLP on 10 rows", estimator):
                    time.sleep(0.45)
            with progress.fitting("quick MLP on 10 rows"):
                pass
        with Progress(None, every=0.01) as quiet:
            with quiet.fitting("never logged"):
                time.sleep(0.05)
    lines = [r.getMessage() for r in caplog.records]
    running = [line for line in lines if "running" in line]
    assert len(running) >= 2, lines  # at least one line every 0.1 s while the fit ran
    assert all(
        line.startswith("train: test arm: safeguard fold 2/3: slow MLP on 10 rows: running, epoch 7,")
        for line in running
    )
    assert lines[-2].startswith("train: test arm: safeguard fold 2/3: slow MLP on 10 rows: 7 epochs, 0.")
    assert lines[-1].startswith("train: test arm: quick MLP on 10 rows: 0.0 s")
    assert not any("never logged" in line for line in lines)


def test_progress_lines_from_its_thread_carry_the_callers_context():
    """Inside a Prefect run, the run's log handler finds the run in the context: the waiting lines, written
    by Progress's own thread, must carry the caller's."""
    import contextvars
    import logging
    import time

    from fewlabel.fitting import Progress

    run = contextvars.ContextVar("run", default=None)
    seen = []

    class Context(logging.Handler):
        def emit(self, record):
            seen.append((record.getMessage(), run.get()))

    logger = logging.getLogger("fewlabel.test_progress")
    logger.setLevel(logging.INFO)
    logger.addHandler(Context())
    token = run.set("run-1")
    try:
        with Progress("train", every=0.05, logger=logger) as progress, progress.fitting("slow MLP"):
            time.sleep(0.2)
    finally:
        run.reset(token)
    assert any("running" in message for message, _ in seen)
    assert {context for _, context in seen} == {"run-1"}
