import pytest

from fewlabel.config import Config, load_config, valid_keys
from fewlabel.errors import UserError


def test_required_keys_exist():
    keys = set(valid_keys())
    for key in [
        "data.source",
        "data.unlabeled_path",
        "data.labeled_path",
        "data.text_column",
        "data.label_column",
        "data.labels_per_class",
        "data.test_size",
        "data.seed",
        "preprocess.stopwords",
        "word2vec.vector_size",
        "word2vec.epochs",
        "word2vec.workers",
        "word2vec.seed",
        "classifier.estimator.hidden_layer_sizes",
        "classifier.estimator.max_iter",
    ]:
        assert key in keys


def test_yaml_file_and_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("word2vec:\n  epochs: 3\nclassifier:\n  estimator:\n    hidden_layer_sizes: [8, 4]\n")
    config = load_config(path, ["word2vec.epochs=7", "data.labels_per_class=null", "preprocess.stopwords=[a, b]"])
    assert config.word2vec.epochs == 7
    assert config.classifier.estimator.hidden_layer_sizes == (8, 4)
    assert config.data.labels_per_class is None
    assert config.preprocess.stopwords == ["a", "b"]


@pytest.mark.parametrize(
    "override, fragment",
    [
        ("word2vec.epoch=3", "unknown key 'word2vec.epoch'"),
        ("nosuch.key=1", "unknown key 'nosuch'"),
        ("word2vec.epochs=0", "word2vec.epochs"),
        ("word2vec.vector_size=-5", "word2vec.vector_size"),
        ("data.test_size=1.5", "data.test_size"),
        ("data.source=imdb", "data.source"),
        ("data.labels_per_class=0", "data.labels_per_class"),
        ("justtext", "expected section.key=value"),
        ("classifier.estimator.hidden_layer_sizes=64", "expected a list (got 64); write it in brackets"),
    ],
)
def test_bad_values_are_rejected_naming_the_key(override, fragment):
    with pytest.raises(UserError) as err:
        load_config(None, [override])
    assert fragment in str(err.value)
    if "unknown key" in fragment:  # only an unknown key lists the valid ones: its section's
        assert "Valid keys" in str(err.value)
        if "word2vec" in fragment:
            assert "(did you mean 'word2vec.epochs'?)" in str(err.value) and "data.seed" not in str(err.value)
    else:
        assert "Valid keys" not in str(err.value)


def test_missing_config_file(tmp_path):
    with pytest.raises(UserError, match="not found"):
        load_config(tmp_path / "nope.yaml")


def test_config_is_a_json_round_trip():
    config = load_config(None, ["classifier.estimator.hidden_layer_sizes=[16]"])
    assert Config.model_validate(config.model_dump(mode="json")) == config


def test_the_estimator_is_one_kind_of_the_registry_and_its_parameters_stay_its_own():
    from fewlabel.classifiers import KINDS

    config = load_config(None, ["classifier.estimator.kind=logistic", "classifier.estimator.C=0.5"])
    assert config.classifier.estimator.kind == "logistic" and config.classifier.estimator.C == 0.5
    with pytest.raises(UserError, match="unknown key 'classifier.estimator.alpha'"):  # an MLP parameter
        load_config(None, ["classifier.estimator.kind=logistic", "classifier.estimator.alpha=1"])
    with pytest.raises(UserError, match=r"classifier.estimator.kind: unknown kind 'no-such-kind'; kinds: ") as error:
        load_config(None, ["classifier.estimator.kind=no-such-kind"])
    assert str(error.value).endswith(", ".join(KINDS))


def test_the_mlp_parameters_of_older_configs_and_run_records_mean_the_estimator_s():
    old = load_config(None, ["classifier.alpha=0.5", "classifier.hidden_layer_sizes=[8]"])
    assert old == load_config(None, ["classifier.estimator.alpha=0.5", "classifier.estimator.hidden_layer_sizes=[8]"])
    with pytest.raises(UserError, match="set twice"):
        load_config(None, ["classifier.alpha=0.5", "classifier.estimator.alpha=1"])
    with pytest.raises(UserError, match="not of 'logistic'"):
        load_config(None, ["classifier.alpha=0.5", "classifier.estimator.kind=logistic"])


def test_a_range_error_names_the_range_without_listing_every_key():
    with pytest.raises(UserError) as error:
        load_config(None, ["word2vec.epochs=0"])
    assert "must be > 0 and <= 1000" in str(error.value) and "Valid keys" not in str(error.value)
    with pytest.raises(UserError, match="finite number"):
        load_config(None, ["word2vec.alpha=.inf"])
