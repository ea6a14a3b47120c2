"""Train, apply and evaluate the flag classifier on plain examples and label strings."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from classifiers.features import Example
from classifiers.metrics import score
from classifiers.pipeline import ABSTAIN_BELOW, CALIBRATION_FOLDS, MIN_SUPPORT, SEED, build_pipeline

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline


@dataclass(frozen=True)
class Model:
    """A fitted pipeline and what it may say.

    `labels` are the classes the pipeline scores (pipeline.classes_ order). `supported` are those
    with at least min_support training items; when the top class is not supported, or its
    probability is below `threshold`, predict() abstains.
    """

    pipeline: Pipeline
    labels: list[str]
    supported: list[str]
    threshold: float


@dataclass(frozen=True)
class Prediction:
    """One item's prediction; label None means the model abstains."""

    label: str | None
    confidence: float
    scores: dict[str, float]


@dataclass(frozen=True)
class Trained:
    """A model with its held-out metrics and the indices of the held-out items."""

    model: Model
    metrics: dict
    test_indices: list[int]


def split(labels: Sequence[str], test_size: float, seed: int) -> tuple[list[int], list[int]]:
    """Return (train, test) indices of a stratified split; one-item classes stay in train.

    Raises ValueError when the held-out share cannot hold one item of each class.
    """
    if not 0.0 < test_size < 1.0:
        raise ValueError(f"test_size must be between 0 and 1, got {test_size}")
    counts = Counter(labels)
    # A class with a single item cannot be on both sides; it is worth more to training.
    lone = [i for i, y in enumerate(labels) if counts[y] < 2]
    rest = np.array([i for i, y in enumerate(labels) if counts[y] >= 2], dtype=int)
    if len(rest) == 0:
        raise ValueError("too few items to hold any out: every class has a single item")
    y_rest = [labels[i] for i in rest]
    n_classes = len(set(y_rest))
    n_test = math.ceil(test_size * len(rest))
    if n_test < n_classes or len(rest) - n_test < n_classes:
        raise ValueError(
            f"too few items for a stratified split: {len(rest)} items in {n_classes} classes "
            f"with test_size={test_size}"
        )
    from sklearn.model_selection import train_test_split  # on first use: see pipeline.py

    train_idx, test_idx = train_test_split(
        rest, test_size=test_size, stratify=y_rest, random_state=seed
    )
    return [int(i) for i in train_idx] + lone, sorted(int(i) for i in test_idx)


def fit(
    examples: Sequence[Example],
    labels: Sequence[str],
    seed: int = SEED,
    min_support: int = MIN_SUPPORT,
) -> Model:
    """Fit a Model on all the given items (no hold-out).

    Classes with fewer than CALIBRATION_FOLDS items are left out: calibration needs one item
    of each class per fold. Raises ValueError when fewer than two classes remain.
    """
    if len(examples) != len(labels):
        raise ValueError(f"{len(examples)} examples but {len(labels)} labels")
    counts = Counter(labels)
    known = sorted(c for c, n in counts.items() if n >= CALIBRATION_FOLDS)
    if len(known) < 2:
        raise ValueError(
            f"need at least two classes with {CALIBRATION_FOLDS} or more training items each; "
            f"got {dict(sorted(counts.items()))}"
        )
    keep = set(known)
    rows = [i for i, y in enumerate(labels) if y in keep]
    pipeline = build_pipeline(seed)
    try:
        pipeline.fit([examples[i] for i in rows], np.array([labels[i] for i in rows], dtype=object))
    except ValueError as error:
        # Typically "empty vocabulary": every word occurs once. Say which input caused it.
        raise ValueError(f"cannot fit the classifier on {len(rows)} items: {error}") from error
    classes = [str(c) for c in pipeline.classes_]
    supported = [c for c in classes if counts[c] >= max(min_support, 1)]
    return Model(pipeline=pipeline, labels=classes, supported=supported, threshold=ABSTAIN_BELOW)


def train(
    examples: list[Example],
    labels: list[str],
    seed: int = SEED,
    test_size: float = 0.3,
    min_support: int = MIN_SUPPORT,
) -> Trained:
    """Fit on a stratified split and measure on the held-out part.

    `min_support` counts training-split items. Raises ValueError when the data is too small:
    the held-out part cannot take one item per class (e.g. 6 items in 3 classes), or fewer than
    two classes keep CALIBRATION_FOLDS training items (e.g. 4 items in 2 classes). 10 items in
    2 balanced classes do train.
    The metrics are those of evaluate(), plus n_train (the items the pipeline was fit on).
    """
    if len(examples) != len(labels):
        raise ValueError(f"{len(examples)} examples but {len(labels)} labels")
    train_idx, test_idx = split(labels, test_size, seed)
    model = fit([examples[i] for i in train_idx], [labels[i] for i in train_idx], seed, min_support)
    known = set(model.labels)
    metrics = evaluate(model, [examples[i] for i in test_idx], [labels[i] for i in test_idx])
    metrics["n_train"] = sum(1 for i in train_idx if labels[i] in known)
    return Trained(model=model, metrics=metrics, test_indices=test_idx)


def _decide(model: Model, proba: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[str | None]]:
    top = proba.argmax(axis=1)
    confidence = proba[np.arange(len(proba)), top]
    allowed = set(model.supported)
    supported = np.array([label in allowed for label in model.labels], dtype=bool)
    speaks = supported[top] & (confidence >= model.threshold)
    chosen = [model.labels[t] if ok else None for t, ok in zip(top, speaks, strict=True)]
    return top, confidence, chosen


def probabilities(model: Model, examples: Sequence[Example]) -> np.ndarray:
    """Return the (n, len(model.labels)) class probabilities of the examples, in one call."""
    return model.pipeline.predict_proba(list(examples))


def decisions(model: Model, proba: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return each row's chosen label's index in model.labels (-1: abstain) and confidence."""
    top, confidence, chosen = _decide(model, proba)
    return np.where([label is not None for label in chosen], top, -1), confidence


def as_predictions(
    labels: Sequence[str], chosen: np.ndarray, confidence: np.ndarray, proba: np.ndarray
) -> list[Prediction]:
    """Return the Predictions that decisions() and probabilities() describe."""
    return [
        Prediction(
            label=labels[index] if index >= 0 else None,
            confidence=float(conf),
            scores=dict(zip(labels, row, strict=True)),
        )
        for index, conf, row in zip(chosen.tolist(), confidence, proba.tolist(), strict=True)
    ]


def predict(model: Model, examples: Sequence[Example]) -> list[Prediction]:
    """Return one Prediction per example, in order, from a single batched pipeline call."""
    if len(examples) == 0:
        return []
    proba = probabilities(model, examples)
    return as_predictions(model.labels, *decisions(model, proba), proba)


def evaluate(model: Model, examples: Sequence[Example], labels: Sequence[str]) -> dict:
    """Return the metrics dict of `model` on labelled items, with n_train None.

    Abstentions count as wrong answers (see classifiers.metrics.score); classes the model
    does not know still count, with recall 0.
    """
    if len(examples) != len(labels):
        raise ValueError(f"{len(examples)} examples but {len(labels)} labels")
    if len(examples) == 0:
        return {"n_train": None, **score([], [], [], np.zeros(0))}
    proba = model.pipeline.predict_proba(list(examples))
    top, confidence, chosen = _decide(model, proba)
    top_label = [model.labels[t] for t in top]
    return {"n_train": None, **score(list(labels), chosen, top_label, confidence)}
