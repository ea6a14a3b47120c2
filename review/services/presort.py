"""Pre-sort: predictions for new items and the queue's priority formula.

Priority (higher is reviewed sooner), with weights the safety team can change
(setting ``priority``; defaults in review.services.settings):

    priority = severity_w    * severity / 5      (predicted category, else the user's pick)
             + uncertainty_w * (1 - confidence)  (1 when the model abstains, 0.5 with no model)
             + flags_w       * log2(flag count)  (many users flagging the same thing)
             + age_w         * days flagged before 2030-01-01

The age term is stored, not recomputed: every item ages at the same rate, so an
item's lead over a newer one from age is fixed when it is flagged.
"""

import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from classifiers import features, persistence, training
from models import Category, ClassifierVersion, Flag, Item, Prediction
from review.services import settings
from review.services.flagformat import FlagIn

AGE_ORIGIN = datetime(2030, 1, 1, tzinfo=UTC)
DEFAULT_SEVERITY = 2
NO_MODEL_UNCERTAINTY = 0.5

MODELS_KEPT = 4  # the active version and a few recent ones (a rollback is instant)

_cache_lock = threading.Lock()
# Keyed by the database, the version id and its creation time: ids can be reused (SQLite
# after a delete, a restored or re-created database), and one process may serve several.
_model_cache: dict[tuple[str, int, datetime], training.Model] = {}


@dataclass(frozen=True)
class ActiveModel:
    """The active classifier version; its model is loaded on first use, once per process."""

    version_id: int
    created_at: datetime
    load: Callable[[], training.Model] = field(repr=False, compare=False)

    @property
    def model(self) -> training.Model:
        return self.load()


def weights(session: Session) -> dict[str, float]:
    """Return the priority weights in force."""
    return settings.get(session, "priority")


def compute_priority(
    w: dict[str, float], severity: int, uncertainty: float, flag_count: int, first_flagged: datetime
) -> float:
    """Return the priority of one item from its parts (see the module docstring)."""
    days_before_origin = (AGE_ORIGIN - first_flagged).total_seconds() / 86400
    return (
        w["severity"] * severity / 5
        + w["uncertainty"] * uncertainty
        + w["flags"] * math.log2(max(flag_count, 1))
        + w["age_per_day"] * days_before_origin
    )


def active_model(session: Session) -> ActiveModel | None:
    """Return the active classifier version, whose model each process loads once.

    Every request asks the database which version is active, so every worker
    follows an activation or rollback without a restart. Asking costs one query;
    the model is read and loaded only when something is predicted with it.
    """
    row = session.execute(
        sa.select(ClassifierVersion.id, ClassifierVersion.created_at).where(
            ClassifierVersion.active
        )
    ).first()
    if row is None:
        return None
    version_id, created_at = row
    key = (str(session.get_bind().url), version_id, created_at)

    def load() -> training.Model:
        with _cache_lock:
            model = _model_cache.get(key)
        if model is None:
            model = persistence.loads(artifact(session, version_id, created_at))
            with _cache_lock:
                _model_cache[key] = model
                while len(_model_cache) > MODELS_KEPT:
                    del _model_cache[next(iter(_model_cache))]  # the least recently loaded
        return model

    return ActiveModel(version_id, created_at, load)


def artifact(session: Session, version_id: int, created_at: datetime) -> bytes:
    """Return a classifier version's stored model (skops bytes).

    The creation time tells a version from a later one that reuses its id (SQLite after a
    delete, a re-created database); LookupError if the version is gone.
    """
    data = session.scalar(
        sa.select(ClassifierVersion.artifact).where(
            ClassifierVersion.id == version_id, ClassifierVersion.created_at == created_at
        )
    )
    if data is None:
        raise LookupError(f"classifier version {version_id} is no longer stored")
    return data


def example_for(item: Item, flag: Flag | None) -> features.Example:
    """Return the classifier's view of an item and its first flag."""
    return features.Example(
        messages=item.messages,
        reason=flag.reason if flag else None,
        category=flag.category if flag else None,
        message_index=flag.message_index if flag else None,
    )


def example_of(flag: FlagIn) -> features.Example:
    """Return the classifier's view of a flag as it arrives (before it is stored)."""
    return features.Example(flag.messages, flag.reason, flag.category, flag.message_index)


def first_flags(session: Session, item_ids: Sequence[int]) -> dict[int, Flag]:
    """Return each item's earliest flag, in one query."""
    if not item_ids:
        return {}
    earliest = (
        sa.select(sa.func.min(Flag.id)).where(Flag.item_id.in_(item_ids)).group_by(Flag.item_id)
    )
    return {f.item_id: f for f in session.scalars(sa.select(Flag).where(Flag.id.in_(earliest)))}


def predict_items(
    session: Session, items: Sequence[Item], active: ActiveModel | None = None
) -> int:
    """Predict a label for each item with the active model, in one batch; return how many."""
    active = active or active_model(session)
    if active is None or not items:
        return 0
    flags = first_flags(session, [i.id for i in items])
    predictions = training.predict(active.model, [example_for(i, flags.get(i.id)) for i in items])
    rows: list[dict[str, Any]] = []
    for item, prediction in zip(items, predictions, strict=True):
        item.predicted_label = prediction.label
        item.predicted_confidence = prediction.confidence
        item.prediction_version_id = active.version_id
        if prediction.label is not None:
            item.queue_category = prediction.label
        rows.append(prediction_row(item.id, active.version_id, prediction))
    session.execute(
        sa.delete(Prediction).where(
            Prediction.version_id == active.version_id,
            Prediction.item_id.in_([i.id for i in items]),
        )
    )
    session.execute(sa.insert(Prediction), rows)
    return len(rows)


def refresh_priorities(session: Session, items: Sequence[Item]) -> None:
    """Recompute the stored priority of items from their prediction and flags."""
    w = weights(session)
    severity = dict(session.execute(sa.select(Category.slug, Category.severity)).all())
    for item in items:
        item.priority = compute_priority(
            w,
            severity.get(item.queue_category or "", DEFAULT_SEVERITY),
            uncertainty(
                item.prediction_version_id is not None,
                item.predicted_label,
                item.predicted_confidence,
            ),
            item.flag_count,
            item.first_flagged_at,
        )


def uncertainty(predicted: bool, label: str | None, confidence: float | None) -> float:
    """Return how unsure the pre-sort is of an item: 1 when the model abstained."""
    if not predicted:
        return NO_MODEL_UNCERTAINTY
    if label is None:
        return 1.0
    return 1.0 - (confidence or 0.0)


def prediction_row(
    item_id: int, version_id: int, prediction: training.Prediction
) -> dict[str, Any]:
    """Return the Prediction row that records one prediction of an item."""
    return {
        "item_id": item_id,
        "version_id": version_id,
        "label": prediction.label,
        "confidence": prediction.confidence,
        "scores": prediction.scores,
    }
