"""Serialise a Model to skops bytes and load it back, trusting only a pinned list of types."""

from __future__ import annotations

import copy
import zipfile
from types import ModuleType
from typing import TYPE_CHECKING

from classifiers.training import Model

if TYPE_CHECKING:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import Pipeline

# Everything in a Model artifact that skops does not trust by default. Pinned: a new entry
# means the pipeline changed shape, and widening trust must be a reviewed change.
TRUSTED_TYPES: list[str] = [
    "classifiers.features.to_columns",
    "classifiers.vectorizer.WordVectorizer",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._TemperatureScaling",
]

FORMAT = 1
# Vocabulary terms are runs of \w, joined by single spaces for bigrams, or \S+ slugs: never a
# newline, so one newline-joined string holds a whole vocabulary.
_SEPARATOR = "\n"


class UntrustedArtifact(ValueError):
    """An artifact that loads() refuses: untrusted types, or not a flagq model at all."""


def _vectorizers(pipeline: Pipeline) -> dict[str, TfidfVectorizer]:
    from sklearn.feature_extraction.text import TfidfVectorizer

    features = pipeline.named_steps["features"]
    return {
        name: vectorizer
        for name, vectorizer, _ in features.transformers_
        if isinstance(vectorizer, TfidfVectorizer)
    }


def _pack(pipeline: Pipeline) -> tuple[Pipeline, dict[str, str]]:
    # skops writes a dict entry by entry with its type (~800 bytes a term): a 60k-term vocabulary
    # would be 50 MB and take seconds to load. A sorted term list is a few hundred kB.
    pipeline = copy.deepcopy(pipeline)
    packed = {}
    for name, vectorizer in _vectorizers(pipeline).items():
        terms = sorted(vectorizer.vocabulary_, key=vectorizer.vocabulary_.__getitem__)
        if any(_SEPARATOR in term for term in terms) or [
            vectorizer.vocabulary_[t] for t in terms
        ] != list(range(len(terms))):
            raise ValueError(f"vocabulary of {name!r} cannot be packed")
        packed[name] = _SEPARATOR.join(terms)
        del vectorizer.vocabulary_
    return pipeline, packed


def _unpack(pipeline: Pipeline, packed: dict[str, str]) -> None:
    vectorizers = _vectorizers(pipeline)
    if set(vectorizers) != set(packed):
        raise UntrustedArtifact("artifact vocabularies do not match its pipeline")
    for name, vectorizer in vectorizers.items():
        terms = packed[name].split(_SEPARATOR)
        vectorizer.vocabulary_ = {term: i for i, term in enumerate(terms)}


def _skops() -> ModuleType:
    # Imported on first use: skops.io scans the installed modules for its default trusted
    # types when imported (1.5 s), which every flagq command would pay, model or not.
    import skops.io

    return skops.io


def dumps(model: Model) -> bytes:
    """Return the model as skops bytes (deflated), ready for a database row."""
    pipeline, vocabularies = _pack(model.pipeline)
    payload = {
        "format": FORMAT,
        "pipeline": pipeline,
        "vocabularies": vocabularies,
        "labels": list(model.labels),
        "supported": list(model.supported),
        "threshold": float(model.threshold),
    }
    sio = _skops()
    return sio.dumps(payload, compression=zipfile.ZIP_DEFLATED)


def loads(data: bytes) -> Model:
    """Return the Model in skops bytes; raises UntrustedArtifact for anything else."""
    sio = _skops()
    try:
        untrusted = sio.get_untrusted_types(data=data)
    except Exception as error:
        # skops raises zipfile, JSON and type errors alike on a damaged artifact.
        raise UntrustedArtifact(f"not a readable skops artifact: {error}") from error
    extra = sorted(set(untrusted) - set(TRUSTED_TYPES))
    if extra:
        raise UntrustedArtifact(f"artifact contains untrusted types: {', '.join(extra)}")
    try:
        payload = sio.loads(data, trusted=TRUSTED_TYPES)
    except Exception as error:
        raise UntrustedArtifact(f"cannot load the artifact: {error}") from error
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise UntrustedArtifact("not a flagq model artifact")
    pipeline = payload.get("pipeline")
    from sklearn.pipeline import Pipeline  # (imported by skops.io above already)

    if not isinstance(pipeline, Pipeline) or "features" not in pipeline.named_steps:
        raise UntrustedArtifact("artifact holds no flagq pipeline")
    _unpack(pipeline, payload.get("vocabularies") or {})
    labels = [str(label) for label in payload["labels"]]
    if labels != [str(c) for c in pipeline.classes_]:
        raise UntrustedArtifact("artifact labels do not match its pipeline")
    return Model(
        pipeline=pipeline,
        labels=labels,
        supported=[str(label) for label in payload["supported"]],
        threshold=float(payload["threshold"]),
    )


def preload() -> None:
    """Import what loading and applying a model needs, for long-lived processes (web workers).

    The command line imports it on first use instead (see pipeline.build_pipeline).
    """
    _skops()
    from sklearn.metrics import confusion_matrix  # noqa: F401

    from classifiers.pipeline import build_pipeline

    build_pipeline()
