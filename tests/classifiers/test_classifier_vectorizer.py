"""WordVectorizer: the same tf-idf matrix as sklearn's TfidfVectorizer, for any text."""

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.feature_extraction.text import TfidfVectorizer

from classifiers.vectorizer import WordVectorizer

TRAIN = [
    "The capital of France is Paris, and Paris is large.",
    "Paris is the capital; the capital is old.",
    "I can't help with that request, sorry.",
    "Sorry, I can't help: that request is unsafe.",
    "Naïve café owners in Zürich serve crème brûlée.",
    "東京 is the capital of 日本 and 東京 is big.",
    "snake_case and CamelCase and 3D printing 42 times",
    "<script>alert('x')</script> is not a recipe",
]

# Text the vocabulary has never seen, mixed with text it has: case, unicode word characters,
# digits, underscores, one-letter words, HTML, emoji, combining marks, empty and blank documents.
UNSEEN = [
    "PARIS is the Capital of FRANCE",
    "the capital the capital the capital",
    "",
    "   \n\t ",
    "a b c d e",
    "Zu\u0308rich cafe\u0301 naïve café",
    "東京東京 東京 日本",
    "<script>alert('x')</script><b>Paris</b>",
    "emoji 🙂 paris 🙂 capital",
    "snake_case 3d 42 times snake_case",
    "can't can t help help help with with that",
    "x" * 3000 + " paris " + "capital " * 200,
]


def same(a, b) -> None:
    """Assert two sparse matrices are the same matrix, value for value."""
    assert a.shape == b.shape
    assert a.dtype == b.dtype
    assert (a != b).nnz == 0
    a, b = a.tocsr(), b.tocsr()
    a.sort_indices()
    b.sort_indices()
    assert np.array_equal(a.indptr, b.indptr)
    assert np.array_equal(a.indices, b.indices)
    assert np.array_equal(a.data, b.data)


def pair(**params) -> tuple[TfidfVectorizer, WordVectorizer]:
    return TfidfVectorizer(**params).fit(TRAIN), WordVectorizer(**params).fit(TRAIN)


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"ngram_range": (1, 2)},
        {"ngram_range": (2, 2)},
        {"ngram_range": (1, 2), "lowercase": False},
        {"ngram_range": (1, 2), "sublinear_tf": True, "max_features": 12},
        {"ngram_range": (1, 2), "binary": True, "norm": None, "use_idf": False},
        {"ngram_range": (1, 2), "min_df": 2},
        {"ngram_range": (1, 2), "dtype": np.float32},
        {"token_pattern": r"\S+", "lowercase": False},
        {"token_pattern": r"\S+", "ngram_range": (1, 2)},
    ],
)
def test_fast_path_gives_sklearns_matrix(params):
    plain, fast = pair(**params)
    assert fast._fast()
    same(fast.transform(UNSEEN), plain.transform(UNSEEN))
    same(fast.transform(TRAIN), plain.transform(TRAIN))


@pytest.mark.parametrize(
    "params",
    [
        {"ngram_range": (1, 3)},
        {"stop_words": "english", "ngram_range": (1, 2)},
        {"token_pattern": r"\w+"},
        {"analyzer": "char_wb", "ngram_range": (2, 3)},
        {"strip_accents": "unicode", "ngram_range": (1, 2)},
    ],
)
def test_other_configurations_fall_back_to_sklearn(params):
    plain, fast = pair(**params)
    assert not fast._fast()
    same(fast.transform(UNSEEN), plain.transform(UNSEEN))


def test_fit_transform_is_sklearns():
    plain, fast = TfidfVectorizer(ngram_range=(1, 2)), WordVectorizer(ngram_range=(1, 2))
    same(fast.fit_transform(TRAIN), plain.fit_transform(TRAIN))
    assert fast.vocabulary_ == plain.vocabulary_


def test_a_given_vocabulary_with_terms_no_text_can_spell():
    vocabulary = ["paris", "the capital", "a b c", "x", "PARIS", "capital", "東京 is"]
    plain, fast = pair(ngram_range=(1, 2), vocabulary=vocabulary, lowercase=False)
    same(fast.transform(UNSEEN), plain.transform(UNSEEN))
    assert fast.transform(["the capital is PARIS"])[0, 1] > 0
    assert fast.transform(["the capital is PARIS"])[0, 4] > 0


def test_bigrams_never_span_two_documents():
    # "paris" ends one document and "capital" starts the next: "paris capital" is not in either.
    fast = WordVectorizer(ngram_range=(1, 2), vocabulary=["paris capital", "paris", "capital"])
    counts = fast.fit(["x"]).transform(["to paris", "capital city"]).toarray()
    assert counts[:, 0].tolist() == [0.0, 0.0]
    assert counts[:, 1:].sum() > 0


def test_bytes_are_decoded_and_nan_is_refused_as_in_sklearn():
    plain, fast = pair(ngram_range=(1, 2))
    docs = [d.encode("utf-8") for d in UNSEEN]
    same(fast.transform(docs), plain.transform(docs))
    with pytest.raises(ValueError, match=r"np\.nan"):
        fast.transform(["paris", np.nan])


def test_a_new_vocabulary_is_followed_and_nothing_is_added_to_the_estimator():
    fast = WordVectorizer(ngram_range=(1, 2)).fit(TRAIN)
    attributes = set(vars(fast))
    fast.transform(UNSEEN)
    # The look-up tables live beside the estimator: a stored artifact never carries them.
    assert set(vars(fast)) == attributes
    other = ["completely other words", "other words again"]
    fast.fit(other)
    plain = TfidfVectorizer(ngram_range=(1, 2)).fit(other)
    same(fast.transform([*UNSEEN, *other]), plain.transform([*UNSEEN, *other]))


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_fast_tokenizers_find_their_patterns_tokens(text):
    from classifiers.vectorizer import _TOKENIZERS

    for pattern, tokenize in _TOKENIZERS.items():
        assert tokenize(text) == re.compile(pattern).findall(text)


ALPHABET = st.sampled_from("ab cd\u00e9\u6771 _1\n.")


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(alphabet=ALPHABET), min_size=1, max_size=6))
def test_any_documents_give_sklearns_matrix(docs):
    plain, fast = pair(ngram_range=(1, 2))
    extended = [*TRAIN, "ab cd ab", "cd ab cd", "\u00e9\u00e9 ab", "\u6771\u6771 cd 11"]
    plain.fit(extended)
    fast.fit(extended)
    same(fast.transform(docs), plain.transform(docs))
