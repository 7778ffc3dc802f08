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
        "classifier.hidden_layer_sizes",
        "classifier.max_iter",
    ]:
        assert key in keys


def test_yaml_file_and_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("word2vec:\n  epochs: 3\nclassifier:\n  hidden_layer_sizes: [8, 4]\n")
    config = load_config(path, ["word2vec.epochs=7", "data.labels_per_class=null", "preprocess.stopwords=[a, b]"])
    assert config.word2vec.epochs == 7
    assert config.classifier.hidden_layer_sizes == (8, 4)
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
    ],
)
def test_bad_values_are_rejected_with_valid_keys(override, fragment):
    with pytest.raises(UserError) as err:
        load_config(None, [override])
    assert fragment in str(err.value)
    if "=" in override:
        assert "Valid keys:" in str(err.value) and "word2vec.epochs" in str(err.value)


def test_missing_config_file(tmp_path):
    with pytest.raises(UserError, match="not found"):
        load_config(tmp_path / "nope.yaml")


def test_config_is_a_json_round_trip():
    config = load_config(None, ["classifier.hidden_layer_sizes=[16]"])
    assert Config.model_validate(config.model_dump(mode="json")) == config
