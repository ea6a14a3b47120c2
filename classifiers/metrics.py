"""Score predictions against reviewer labels: macro-F1, accuracy, confusion, calibration."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

ECE_BINS = 15

# Stands in for an abstention in y_pred; the NUL makes a clash with a real slug impossible.
_ABSTAIN = "\0abstain"


def expected_calibration_error(confidence: np.ndarray, correct: np.ndarray) -> float:
    """Return the ECE over ECE_BINS equal-width bins of top-class confidence, (lo, hi] each."""
    if len(confidence) == 0:
        return 0.0
    confidence = np.asarray(confidence, dtype=float)
    correct = np.asarray(correct, dtype=float)
    bins = np.clip(np.ceil(confidence * ECE_BINS).astype(int) - 1, 0, ECE_BINS - 1)
    total = 0.0
    for b in range(ECE_BINS):
        members = bins == b
        if members.any():
            gap = abs(confidence[members].mean() - correct[members].mean())
            total += members.mean() * gap
    return float(total)


def score(
    y_true: Sequence[str],
    y_pred: Sequence[str | None],
    top_label: Sequence[str],
    top_confidence: np.ndarray,
) -> dict:
    """Return the metrics dict (without n_train) for predictions on labelled items.

    An abstention (None in y_pred) counts as a wrong answer: it lowers accuracy and the recall
    of the item's true class, and no class gains a false positive. Macro-F1 averages over the
    classes seen in y_true or y_pred. The confusion matrix leaves abstentions out (see
    `abstained`). ECE judges the probabilities, so it uses the model's top class whether or
    not the model abstained.
    """
    if not (len(y_true) == len(y_pred) == len(top_label) == len(top_confidence)):
        raise ValueError("y_true, y_pred, top_label and top_confidence must have the same length")
    truth = np.asarray(list(y_true), dtype=object)
    pred = np.asarray([_ABSTAIN if p is None else p for p in y_pred], dtype=object)
    classes = sorted(set(truth.tolist()) | {p for p in y_pred if p is not None})
    abstained = int((pred == _ABSTAIN).sum())
    if len(truth) == 0:
        return {
            "n_test": 0,
            "macro_f1": 0.0,
            "accuracy": 0.0,
            "per_class": {},
            "confusion_matrix": {"labels": [], "matrix": []},
            "ece": 0.0,
            "abstained": 0,
        }
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support  # see pipeline.py

    precision, recall, f1, support = precision_recall_fscore_support(
        truth, pred, labels=classes, zero_division=0.0
    )
    matrix = confusion_matrix(truth, pred, labels=classes)
    correct = np.asarray(list(top_label), dtype=object) == truth
    return {
        "n_test": len(truth),
        "macro_f1": float(np.mean(f1)),
        "accuracy": float(np.mean(pred == truth)),
        "per_class": {
            label: {
                "precision": float(precision[i]),
                "recall": float(recall[i]),
                "f1": float(f1[i]),
                "support": int(support[i]),
            }
            for i, label in enumerate(classes)
        },
        "confusion_matrix": {"labels": classes, "matrix": matrix.tolist()},
        "ece": expected_calibration_error(top_confidence, correct),
        "abstained": abstained,
    }
