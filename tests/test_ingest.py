import pandas as pd
import pytest

from fewlabel import corpora, readers
from fewlabel.config import DataConfig
from fewlabel.dataset import check_classes, split, subsample
from fewlabel.errors import UserError

from .conftest import labeled_csv, unlabeled_txt, write


@pytest.mark.parametrize("fmt", ["csv", "tsv", "parquet", "txt"])
def test_read_labeled_formats_keep_text_and_rows(tmp_path, fmt):
    frame = pd.DataFrame({"text": ["a b", "NA", 'c,d "e"'], "label": ["x", "y", "x"]})
    path = tmp_path / f"l.{fmt}"
    if fmt == "csv":
        frame.to_csv(path, index=False)
    elif fmt == "tsv":
        frame.to_csv(path, index=False, sep="\t")
    elif fmt == "parquet":
        frame.to_parquet(path)
    else:
        write(path, "".join(f"{lab}\t{txt}\n" for txt, lab in zip(frame.text, frame.label)))
    got = readers.read_labeled(path)
    assert got["text"].tolist() == ["a b", "NA", 'c,d "e"']  # "NA" stays text, nothing altered
    assert got["label"].tolist() == ["x", "y", "x"]
    assert got["row"].tolist() == [1, 2, 3]


def test_read_unlabeled_folder_of_shards_and_blank_lines(tmp_path):
    write(tmp_path / "u" / "a.txt", "one\n\ntwo\n")
    write(tmp_path / "u" / "b.csv", "text\nthree\n")
    got = readers.read_unlabeled(tmp_path / "u")
    assert got["text"].tolist() == ["one", "two", "three"]
    assert got["origin"].tolist() == ["a.txt", "a.txt", "b.csv"]
    assert got.attrs["blank_lines"] == 1


@pytest.mark.parametrize(
    "content, fragment",
    [
        ("text,label\nok,a\n,b\n", "row 2: empty text in column 'text'"),
        ("text,label\nok,a\nfine,\n", "row 2: missing label in column 'label'"),
        ("words,label\nok,a\n", "no column 'text' (columns: words, label)"),
        ("text,label\n", "no labeled rows"),
    ],
)
def test_read_labeled_errors_name_file_row_column(tmp_path, content, fragment):
    path = write(tmp_path / "bad.csv", content)
    with pytest.raises(UserError) as err:
        readers.read_labeled(path)
    assert fragment in str(err.value) and "bad.csv" in str(err.value)


def test_non_utf8_names_line_and_fix(tmp_path):
    path = write(tmp_path / "latin.csv", "text,label\nok,a\ncaf\xe9,b\n".encode("latin-1"))
    with pytest.raises(UserError, match=r"latin.csv line 3: byte 0xe9 .*data.encoding"):
        readers.read_labeled(path)
    assert readers.read_labeled(path, encoding="latin-1")["text"].tolist() == ["ok", "café"]


def test_unsupported_and_missing_files(tmp_path):
    with pytest.raises(UserError, match="unsupported format '.xlsx'"):
        readers.read_labeled(write(tmp_path / "x.xlsx", "x"))
    with pytest.raises(UserError, match="not found"):
        readers.read_unlabeled(tmp_path / "missing.txt")
    with pytest.raises(UserError, match="not a readable Parquet"):
        readers.read_labeled(write(tmp_path / "x.parquet", b"garbage"))


def test_split_is_stratified_and_seeded():
    labeled = pd.DataFrame({"text": [f"t{i}" for i in range(40)], "label": ["a"] * 30 + ["b"] * 10})
    config = DataConfig(source="files", test_size=0.5, seed=3)
    train, test = split(labeled, config)
    assert len(train) == len(test) == 20
    assert (train["label"] == "b").sum() == 5 and (test["label"] == "b").sum() == 5
    assert set(train["text"]).isdisjoint(test["text"])
    again, _ = split(labeled, config)
    assert again["text"].tolist() == train["text"].tolist()


@pytest.mark.parametrize("n", [1, 3])
def test_subsample_n_per_class(n):
    train = pd.DataFrame({"text": [f"t{i}" for i in range(12)], "label": ["a", "b", "c"] * 4})
    kept, rest = subsample(train, n, seed=0)
    assert kept["label"].value_counts().to_dict() == {"a": n, "b": n, "c": n}
    assert len(kept) + len(rest) == len(train)


def test_subsample_more_than_available_names_range():
    train = pd.DataFrame({"text": list("abcd"), "label": ["x", "x", "y", "y"]})
    with pytest.raises(UserError, match=r"choose 1..2"):
        subsample(train, 5, seed=0)


@pytest.mark.parametrize(
    "labels, fragment",
    [
        (["a", "a", "a"], "only one class"),
        (["a", "a", "b"], r"fewer than 2 examples: 'b' \(1\)"),
    ],
)
def test_check_classes(labels, fragment):
    with pytest.raises(UserError, match=fragment):
        check_classes(pd.Series(labels), "where")


def test_ingest_stage_keeps_test_out_of_unlabeled(data_dir, tmp_path):
    from fewlabel import store
    from fewlabel.tasks.ingest import ingest

    lab = labeled_csv(tmp_path / "lab.csv", n_per_class=6)
    test_sentence = '"the film was great wonderful fine lovely number 0"'
    unl = unlabeled_txt(tmp_path / "unl.txt")
    with open(unl, "a") as fh:
        fh.write(test_sentence.strip('"') + "\n")
    config = DataConfig(source="files", labeled_path=str(lab), unlabeled_path=str(unl), labels_per_class=2)
    ref = ingest.fn(config)
    tables = {s: store.read_table(ref, f"{s}.parquet").to_pandas() for s in ("unlabeled", "train", "test")}
    assert set(tables["test"]["text"]).isdisjoint(tables["unlabeled"]["text"])
    assert tables["train"]["label"].value_counts().to_dict() == {"bad": 2, "good": 2}
    assert ref["stats"]["pooled_from_labeled"] == 2  # 6 per class, half tested, 2 kept: 1 per class pooled
    assert list(tables["train"].columns) == ["text", "label", "origin", "row"]
    assert list(tables["unlabeled"].columns) == ["text", "origin", "row"]
    # every labeled row is accounted for: train + test + pooled
    assert ref["stats"]["train_rows"] + ref["stats"]["test_rows"] + ref["stats"]["pooled_from_labeled"] == 12


@pytest.mark.parametrize(
    "name, origin, minimum",
    [
        ("wiki", corpora.WIKI_SAMPLE, 100),
        ("lee", "lee_background.cor", 300),
    ],
)
def test_extra_unlabeled_corpora(name, origin, minimum):
    frame = corpora.EXTRA_UNLABELED[name]()
    assert list(frame.columns) == ["text", "origin", "row"] and len(frame) >= minimum
    assert (frame["origin"] == origin).all() and frame["row"].tolist() == list(range(1, len(frame) + 1))
    assert (frame["text"].str.strip() != "").all()
    if name == "wiki":
        assert not frame["text"].str.contains("'''|\\[\\[", regex=True).any()  # markup removed


def test_with_extra_appends_corpora_once_and_config_refuses_unknown():
    from fewlabel.dataset import with_extra

    base = pd.DataFrame({"text": ["own text"], "origin": ["u.txt"], "row": [1]})
    assert with_extra(base, []) is base
    got = with_extra(base, ["lee", "lee"])
    assert got["text"].iloc[0] == "own text" and set(got["origin"]) == {"u.txt", "lee_background.cor"}
    assert len(got) == 1 + len(corpora.read_lee())
    with pytest.raises(ValueError):
        DataConfig(extra_unlabeled=["imdb"])


def test_ingest_stage_extra_corpora_never_hold_a_test_sentence(data_dir, tmp_path, monkeypatch):
    from fewlabel import store
    from fewlabel.tasks.ingest import ingest

    lab = labeled_csv(tmp_path / "lab.csv", n_per_class=6)
    unl = unlabeled_txt(tmp_path / "unl.txt")
    labeled = readers.read_labeled(lab)["text"].tolist()  # every labeled sentence is also "news"
    fake = pd.DataFrame(
        {"text": ["news one", *labeled], "origin": "lee_background.cor", "row": range(1, len(labeled) + 2)}
    )
    monkeypatch.setitem(corpora.EXTRA_UNLABELED, "lee", lambda: fake)
    config = DataConfig(source="files", labeled_path=str(lab), unlabeled_path=str(unl), extra_unlabeled=["lee"])
    ref = ingest.fn(config)
    unlabeled = store.read_table(ref, "unlabeled.parquet").to_pandas()
    test = store.read_table(ref, "test.parquet").to_pandas()
    assert "news one" in set(unlabeled["text"])
    assert set(test["text"]).isdisjoint(unlabeled["text"])
    assert ref["stats"]["unlabeled_equal_to_test_removed"] == len(test)
