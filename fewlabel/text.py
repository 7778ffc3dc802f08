"""Text: normalization, tokenization by language, stopwords, line splitting (pure Arrow functions).

Adding a language is one function:

    @tokenizer("xx", negations={"nope"})
    def tokenize_xx(texts: pa.Array, lowercase: bool) -> pa.ListArray: ...

It receives a column of strings and returns a list<string> column of the same length.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

if TYPE_CHECKING:  # the config validates languages against this module's registry
    from fewlabel.config import PreprocessConfig

Tokenize = Callable[[pa.Array, bool], pa.ListArray]
TOKENS = pa.field("tokens", pa.list_(pa.string()))


@dataclass(frozen=True)
class Language:
    tokenize: Tokenize
    negations: frozenset[str]
    name: str


LANGUAGES: dict[str, Language] = {}
"""Every tokenizer by language code: the one list ``preprocess.language`` is validated against."""


def tokenizer(code: str, negations: set[str] | frozenset[str] = frozenset(), name: str = ""):
    """Register ``fn`` as the tokenizer of language ``code`` (with the words that negate, and the
    language's name for the config's description)."""

    def register(fn: Tokenize) -> Tokenize:
        LANGUAGES[code] = Language(fn, frozenset(negations), name or code)
        return fn

    return register


def normalize(texts: pa.Array, lowercase: bool) -> pa.Array:
    """NFKC, typographic apostrophes made plain, optionally lowercased."""
    texts = pc.utf8_normalize(texts, form="NFKC")
    texts = pc.replace_substring(texts, "\u2019", "'")
    return pc.utf8_lower(texts) if lowercase else texts


@tokenizer(
    "en",
    name="English",
    negations=set(
        "no not nor never none nobody nothing nowhere neither cannot without "
        "don't doesn't didn't isn't aren't wasn't weren't won't wouldn't can't couldn't shouldn't "
        "hasn't haven't hadn't mustn't n't".split()
    ),
)
def tokenize_en(texts: pa.Array, lowercase: bool = True) -> pa.ListArray:
    """Words of letters, marks and digits, keeping inner apostrophes (``don't``); Arrow kernels only."""
    texts = pc.replace_substring_regex(normalize(texts, lowercase), r"[^\pL\pM\pN']+", " ")
    texts = pc.replace_substring_regex(texts, r"(^|\s)'+", " ")  # two passes: in "x' 'y" the matches
    texts = pc.replace_substring_regex(texts, r"'+(\s|$)", " ")  # would share the space (no lookaround in RE2)
    return pc.utf8_split_whitespace(pc.utf8_trim_whitespace(texts))


@tokenizer(
    "fr",
    name="French",
    negations=set("ne n pas plus jamais rien aucun aucune aucuns aucunes personne ni nul nulle sans guère".split()),
)
def tokenize_fr(texts: pa.Array, lowercase: bool = True) -> pa.ListArray:
    """Words of letters, marks and digits; elisions split off (``l'émotion`` -> ``l``, ``émotion``)."""
    texts = pc.replace_substring_regex(normalize(texts, lowercase), r"[^\pL\pM\pN]+", " ")
    return pc.utf8_split_whitespace(pc.utf8_trim_whitespace(texts))


@tokenizer(
    "nl",
    name="Dutch",
    negations=set("niet geen nooit niets niks niemand nergens noch zonder geenszins allerminst".split()),
)
def tokenize_nl(texts: pa.Array, lowercase: bool = True) -> pa.ListArray:
    """As English: words of letters, marks and digits, inner apostrophes kept (``auto's``)."""
    return tokenize_en(texts, lowercase)


@tokenizer(
    "zh",
    name="Chinese, jieba",
    negations={"不", "没", "没有", "无", "非", "未", "别", "不是", "不要", "不会", "不能", "并不", "从不"},
)
def tokenize_zh(texts: pa.Array, lowercase: bool = True) -> pa.ListArray:
    """Chinese word segmentation with jieba (its dictionary ships in the package); drops punctuation."""
    import logging

    import jieba

    jieba.setLogLevel(logging.WARNING)
    texts = pc.replace_substring_regex(normalize(texts, lowercase), r"[^\pL\pM\pN]+", " ")
    return pa.array(
        [[w for w in jieba.lcut(t) if not w.isspace()] if t is not None else [] for t in texts.to_pylist()],
        pa.list_(pa.string()),
    )


def stopwords(name: str, language: str) -> frozenset[str]:
    """A named stopword list: 'english' (scikit-learn's) or 'iso' (stopwords-iso for the language)."""
    if name == "english":
        from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

        return frozenset(ENGLISH_STOP_WORDS)
    if name == "iso":
        import stopwordsiso

        return frozenset(stopwordsiso.stopwords(language))
    return frozenset()


def stopword_set(config: PreprocessConfig) -> frozenset[str]:
    """The words to drop: a named list or the user's own, minus negations if they are kept."""
    if isinstance(config.stopwords, str):
        words = stopwords(config.stopwords, config.language)
    else:
        words = frozenset(w.lower() if config.lowercase else w for w in config.stopwords)
    return words - LANGUAGES[config.language].negations if config.keep_negations else words


def filter_tokens(tokens: pa.ListArray, drop: frozenset[str], min_length: int = 1) -> pa.ListArray:
    """Remove the tokens in ``drop`` and those shorter than ``min_length``, list by list."""
    if isinstance(tokens, pa.ChunkedArray):
        tokens = tokens.combine_chunks()
    flat = pc.list_flatten(tokens)
    keep = pc.invert(pc.is_in(flat, value_set=pa.array(sorted(drop), pa.string())))
    if min_length > 1:
        keep = pc.and_(keep, pc.greater_equal(pc.utf8_length(flat), min_length))
    parents = pc.list_parent_indices(tokens).to_numpy()[keep.to_numpy(zero_copy_only=False)]
    counts = np.bincount(parents, minlength=len(tokens))
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
    return pa.ListArray.from_arrays(pa.array(offsets), flat.filter(keep))


def tokenize(texts: pa.Array, config: PreprocessConfig) -> pa.ListArray:
    """The full text-to-tokens transformation of a column, as configured."""
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks()
    tokens = LANGUAGES[config.language].tokenize(texts, config.lowercase)
    return filter_tokens(tokens, stopword_set(config) | {""}, config.min_token_length)


def split_lines(table: pa.Table) -> pa.Table:
    """One row per non-blank line of each document, keeping its origin and row."""
    lines = pc.split_pattern_regex(table["text"], r"\r?\n")
    parents = pc.list_parent_indices(lines)
    flat = pc.list_flatten(lines)
    exploded = table.take(parents).set_column(table.schema.get_field_index("text"), "text", flat)
    return exploded.filter(pc.greater(pc.utf8_length(pc.utf8_trim_whitespace(flat)), 0))


def why_no_tokens(texts: pa.Array, config: PreprocessConfig) -> str:
    """Why ``texts`` gave no token at all, and the fix: the tokenizer found no word, or the stopwords
    or the minimum token length removed every word."""
    words = filter_tokens(LANGUAGES[config.language].tokenize(texts, config.lowercase), frozenset({""}))
    if not len(pc.list_flatten(words)):
        return (
            f"hold no word (letters or digits) for the {config.language!r} tokenizer: check that data.text_column "
            "names the text, and preprocess.language"
        )
    long_enough = filter_tokens(words, frozenset(), config.min_token_length)
    if not len(pc.list_flatten(long_enough)):
        return f"have no word of at least preprocess.min_token_length={config.min_token_length} characters: lower it"
    return f"lost every word to preprocess.stopwords={config.stopwords!r}: use a shorter list or 'none'"
