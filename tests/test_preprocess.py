import pyarrow as pa
import pytest

from fewlabel.config import PreprocessConfig
from fewlabel.errors import UserError
from fewlabel.text import LANGUAGES, filter_tokens, split_lines, stopword_set, tokenize


@pytest.mark.parametrize(
    "text, tokens",
    [
        ("Hello, World!", ["hello", "world"]),
        ("it's not   GOOD... don't", ["it's", "not", "good", "don't"]),
        ("'quoted' words", ["quoted", "words"]),
        ("café naïve 21st", ["café", "naïve", "21st"]),
        ("", []),
        ("!!! ???", []),
    ],
)
def test_tokenize_default(text, tokens):
    assert tokenize(pa.array([text]), PreprocessConfig()).to_pylist() == [tokens]


def test_english_stopwords_keep_negations_by_default():
    config = PreprocessConfig(stopwords="english")
    got = tokenize(pa.array(["this is not the best film and no one cares"]), config).to_pylist()
    assert got == [["not", "best", "film", "no", "cares"]]
    assert "not" in stopword_set(config.model_copy(update={"keep_negations": False}))
    assert not (stopword_set(config) & LANGUAGES["en"].negations)


def test_custom_stopwords_and_min_length():
    config = PreprocessConfig(stopwords=["Film"], min_token_length=3)
    assert tokenize(pa.array(["A film of an age"]), config).to_pylist() == [["age"]]


def test_filter_tokens_keeps_list_boundaries():
    tokens = pa.array([["a", "x"], [], ["x"], ["b", "c", "x"]])
    assert filter_tokens(tokens, frozenset({"x"})).to_pylist() == [["a"], [], [], ["b", "c"]]


def test_split_lines_keeps_origin():
    table = pa.table({"text": ["one\ntwo\r\n\nthree", "four"], "origin": ["a", "b"], "row": [1, 2]})
    got = split_lines(table)
    assert got["text"].to_pylist() == ["one", "two", "three", "four"]
    assert got["row"].to_pylist() == [1, 1, 1, 2]


def test_preprocess_stage_schema_and_all_stopwords_error(data_dir, tmp_path):
    from fewlabel import store
    from fewlabel.config import DataConfig
    from fewlabel.tasks.ingest import ingest
    from fewlabel.tasks.preprocess import preprocess

    from .conftest import labeled_csv, unlabeled_txt

    config = DataConfig(
        source="files",
        labeled_path=str(labeled_csv(tmp_path / "l.csv")),
        unlabeled_path=str(unlabeled_txt(tmp_path / "u.txt")),
    )
    ingested = ingest.fn(config)
    ref = preprocess.fn(ingested, PreprocessConfig())
    table = store.read_table(ref, "train.parquet")
    assert table.schema.field("tokens").type == pa.list_(pa.string())
    everything = sorted(set(sum(table["tokens"].to_pylist(), [])))
    with pytest.raises(UserError, match="training sentences lost every word to preprocess.stopwords"):
        preprocess.fn(ingested, PreprocessConfig(stopwords=everything, keep_negations=False))


def test_chinese_segmentation_and_stopwords():
    texts = pa.array(["这部电影真的不好看！", "我很喜欢这个故事。", ""])
    tokens = tokenize(texts, PreprocessConfig(language="zh")).to_pylist()
    assert tokens[0] == ["这部", "电影", "真的", "不", "好看"]
    assert "喜欢" in tokens[1] and "。" not in tokens[1]
    assert tokens[2] == []
    filtered = tokenize(texts, PreprocessConfig(language="zh", stopwords="iso")).to_pylist()
    assert "不" in filtered[0]  # a negation, kept although stopwords-iso lists it
    assert "的" not in sum(filtered, []) and "很" not in filtered[1]


def test_unknown_language_lists_the_known_ones():
    from fewlabel.config import load_config
    from fewlabel.errors import UserError

    with pytest.raises(UserError, match="preprocess.language: unknown value 'xx'; choose one of en, fr, nl, zh"):
        load_config(None, ["preprocess.language=xx"])


def test_preprocess_streams_in_batches_with_the_same_result(data_dir, tmp_path):
    from fewlabel import store
    from fewlabel.config import DataConfig
    from fewlabel.tasks.ingest import ingest
    from fewlabel.tasks.preprocess import preprocess

    config = DataConfig(source="tiny")
    ingested = ingest.fn(config)
    whole = preprocess.fn(ingested, PreprocessConfig())
    small = preprocess.fn(ingested, PreprocessConfig(), batch_size=7)
    assert whole["path"] != small["path"]  # a different batch size is a different artifact
    for split in ("unlabeled", "train", "test"):
        a, b = (store.read_table(r, f"{split}.parquet") for r in (whole, small))
        assert a.equals(b)
        assert a.column_names[-1] == "tokens" and a.column_names[0] == "text"
    assert small["stats"] == whole["stats"]
    assert store.read_table(small, "unlabeled.parquet").num_rows > 7 * 10  # many batches


@pytest.mark.parametrize(
    "texts, config, says",
    [
        (["!!! ...", "?!"], PreprocessConfig(), "hold no word (letters or digits) for the 'en' tokenizer"),
        (["a b", "c d"], PreprocessConfig(min_token_length=3), "preprocess.min_token_length=3"),
        (["the a", "of an"], PreprocessConfig(stopwords="english"), "lost every word to preprocess.stopwords"),
    ],
)
def test_an_empty_training_set_is_explained_by_its_real_cause(texts, config, says):
    from fewlabel.text import why_no_tokens

    assert says in why_no_tokens(pa.array(texts), config)
