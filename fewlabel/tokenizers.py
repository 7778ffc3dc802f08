"""Tokenizers by language. Adding a language is one function:

    @tokenizer("xx", negations={"nope"}, stopwords="iso")
    def tokenize_xx(texts: pa.Array, lowercase: bool) -> pa.ListArray: ...

It receives a column of strings and returns a list<string> column of the same length.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

Tokenize = Callable[[pa.Array, bool], pa.ListArray]


@dataclass(frozen=True)
class Language:
    tokenize: Tokenize
    negations: frozenset[str]


LANGUAGES: dict[str, Language] = {}


def tokenizer(code: str, negations: set[str] | frozenset[str] = frozenset()):
    """Register ``fn`` as the tokenizer of language ``code`` (with the words that negate)."""

    def register(fn: Tokenize) -> Tokenize:
        LANGUAGES[code] = Language(fn, frozenset(negations))
        return fn

    return register


def _normalize(texts: pa.Array, lowercase: bool) -> pa.Array:
    texts = pc.utf8_normalize(texts, form="NFKC")
    texts = pc.replace_substring(texts, "\u2019", "'")  # typographic apostrophe
    return pc.utf8_lower(texts) if lowercase else texts


@tokenizer("en", negations=set(
    "no not nor never none nobody nothing nowhere neither cannot without "
    "don't doesn't didn't isn't aren't wasn't weren't won't wouldn't can't couldn't shouldn't "
    "hasn't haven't hadn't mustn't n't".split()
))
def tokenize_en(texts: pa.Array, lowercase: bool = True) -> pa.ListArray:
    """Words of letters, marks and digits, keeping inner apostrophes (``don't``); Arrow kernels only."""
    texts = pc.replace_substring_regex(_normalize(texts, lowercase), r"[^\pL\pM\pN']+", " ")
    texts = pc.replace_substring_regex(texts, r"(^|\s)'+", " ")  # two passes: in "x' 'y" the matches
    texts = pc.replace_substring_regex(texts, r"'+(\s|$)", " ")  # would share the space (no lookaround in RE2)
    return pc.utf8_split_whitespace(pc.utf8_trim_whitespace(texts))


@tokenizer("zh", negations={"不", "没", "没有", "无", "非", "未", "别", "不是", "不要", "不会", "不能", "并不", "从不"})
def tokenize_zh(texts: pa.Array, lowercase: bool = True) -> pa.ListArray:
    """Chinese word segmentation with jieba (its dictionary ships in the package); drops punctuation."""
    import logging

    import jieba

    jieba.setLogLevel(logging.WARNING)
    texts = pc.replace_substring_regex(_normalize(texts, lowercase), r"[^\pL\pM\pN]+", " ")
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
