"""Artifacts: skops bytes round-trip, and anything outside the pinned trusted types is refused."""

import copy
import io
import os
import zipfile

import pytest
import skops.io as sio
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from classifiers.features import Example
from classifiers.persistence import TRUSTED_TYPES, UntrustedArtifact, dumps, loads
from classifiers.training import Model, predict, train

PHRASES = {
    "no_error": "Sure, here is a short recipe for {} soup with {} carrots.",
    "factual_error": "The river {} is {} kilometres long and flows through Mars.",
    "unhelpful_refusal": "Sorry, I can't discuss {} or anything about {} at all.",
}


def examples(n: int) -> tuple[list[Example], list[str]]:
    """Write n synthetic flags cycling over three classes."""
    words = ["leek", "pea", "onion", "bean", "kale", "corn", "okra"]
    out, labels = [], []
    for i in range(n):
        label = list(PHRASES)[i % 3]
        reply = PHRASES[label].format(words[i % 7], i % 5 + 2)
        user = f"Question number {i % 4} about {words[(i + 3) % 7]}"
        messages = [{"role": "user", "content": user}, {"role": "assistant", "content": reply}]
        out.append(Example(messages=messages, category=label if i % 5 == 0 else None))
        labels.append(label)
    return out, labels


@pytest.fixture(scope="module")
def model() -> Model:
    return train(*examples(60)).model


def test_round_trip_gives_identical_predictions(model):
    data = dumps(model)
    assert isinstance(data, bytes)
    loaded = loads(data)
    assert loaded.labels == model.labels
    assert loaded.supported == model.supported
    assert loaded.threshold == model.threshold
    items, _ = examples(30)
    assert predict(loaded, items) == predict(model, items)
    # Loading must not have touched the model that was dumped.
    assert predict(model, items) == predict(loads(dumps(model)), items)


def test_artifact_needs_only_the_pinned_types(model):
    untrusted = sio.get_untrusted_types(data=dumps(model))
    assert set(untrusted) <= set(TRUSTED_TYPES)
    # Pinned exactly: a stale entry would widen trust for nothing.
    assert sorted(untrusted) == sorted(TRUSTED_TYPES)


class Sneaky(BaseEstimator, TransformerMixin):
    """A transformer that is not on the trusted list."""

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        return X


def payload_with(model: Model, step) -> bytes:
    """Dump a model-shaped payload whose pipeline carries one extra step."""
    data = sio.loads(dumps(model), trusted=TRUSTED_TYPES)
    data["pipeline"] = Pipeline([("extra", step), *data["pipeline"].steps])
    return sio.dumps(data)


@pytest.mark.parametrize(
    "step, name",
    [
        (Sneaky(), "test_classifier_persistence.Sneaky"),
        (FunctionTransformer(os.system), "posix.system"),
    ],
)
def test_artifact_with_an_untrusted_type_is_refused(model, step, name):
    data = payload_with(model, step)
    assert any(t.endswith(name) for t in sio.get_untrusted_types(data=data))
    with pytest.raises(UntrustedArtifact, match="untrusted types"):
        loads(data)


def test_refusal_is_a_value_error():
    assert issubclass(UntrustedArtifact, ValueError)


@pytest.mark.parametrize("data", [b"", b"not a zip", b"PK\x03\x04garbage"])
def test_unreadable_bytes_are_refused(data):
    with pytest.raises(UntrustedArtifact):
        loads(data)


def test_trusted_but_foreign_objects_are_refused():
    with pytest.raises(UntrustedArtifact, match="not a flagq model"):
        loads(sio.dumps({"weights": [1, 2, 3]}))
    with pytest.raises(UntrustedArtifact, match="not a flagq model"):
        loads(sio.dumps([1, 2, 3]))


def test_artifact_is_compressed(model):
    data = dumps(model)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert all(info.compress_type == zipfile.ZIP_DEFLATED for info in archive.infolist())


def test_artifacts_from_before_the_word_vectorizer_still_load_and_agree(model):
    # Models stored before WordVectorizer held sklearn's TfidfVectorizer: they load as they
    # are and predict what the current class predicts.
    from sklearn.feature_extraction.text import TfidfVectorizer

    from classifiers.vectorizer import WordVectorizer

    old = copy.deepcopy(model)
    replaced = 0
    features = old.pipeline.named_steps["features"]
    # The fitted vectorizers, and the unfitted ones the ColumnTransformer was built with.
    for _, vectorizer, _ in features.transformers_ + features.transformers:
        if isinstance(vectorizer, WordVectorizer):
            vectorizer.__class__ = TfidfVectorizer
            replaced += 1
    assert replaced
    data = dumps(old)
    assert "classifiers.vectorizer.WordVectorizer" not in sio.get_untrusted_types(data=data)
    items, _ = examples(30)
    assert predict(loads(data), items) == predict(model, items)
