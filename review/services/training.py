"""Train classifier versions from reviewers' decisions; activate, roll back, re-score."""

import hashlib
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from classifiers import features, persistence, training
from models import Category, ClassifierVersion, Flag, Item, ItemStatus, User, utcnow
from review.errors import Invalid, NotFound
from review.services import audit, labels, presort, taxonomy

RESCORE_BATCH = 1000


@dataclass(frozen=True)
class TrainingSet:
    item_ids: list[int]
    examples: list[features.Example]
    labels: list[str]

    @property
    def fingerprint(self) -> str:
        """Return a hash of which items were learnt with which labels."""
        digest = hashlib.sha256()
        for item_id, label in sorted(zip(self.item_ids, self.labels, strict=True)):
            digest.update(f"{item_id}:{label}\n".encode())
        return digest.hexdigest()


@dataclass(frozen=True)
class TrainOutcome:
    version: ClassifierVersion
    metrics: dict[str, Any]
    activated: bool
    active_before: int | None
    active_macro_f1: float | None  # the previous model on the same held-out items


def training_set(session: Session) -> TrainingSet:
    """Return every item with a final label (see review.services.labels) that is an active
    category, as an example with that label."""
    history = labels.TaxonomyHistory.load(session)
    active = set(session.scalars(sa.select(Category.slug).where(Category.active)))
    final = labels.final_label_rows(history)
    first_flag = (
        sa.select(Flag.item_id, sa.func.min(Flag.id).label("flag_id"))
        .group_by(Flag.item_id)
        .subquery()
    )
    rows = session.execute(
        sa.select(
            Item.id, Item.messages, Flag.reason, Flag.category, Flag.message_index, final.c.label
        )
        .join(final, final.c.item_id == Item.id)
        .outerjoin(first_flag, first_flag.c.item_id == Item.id)
        .outerjoin(Flag, Flag.id == first_flag.c.flag_id)
        .order_by(Item.id)
        .execution_options(yield_per=2000)
    )
    ids, examples, ys = [], [], []
    for item_id, messages, reason, category, message_index, label in rows:
        if label not in active:
            continue
        ids.append(item_id)
        examples.append(features.Example(messages, reason, category, message_index))
        ys.append(label)
    return TrainingSet(ids, examples, ys)


def train_version(
    session: Session, actor: User | None, force: bool = False, seed: int = training.SEED
) -> TrainOutcome:
    """Train a new version on all decisions and store it.

    It becomes active only when its macro-F1 on its held-out items is at least the
    active version's on those same items, or with force. Raises Invalid when there
    are too few decisions to train and measure.
    """
    data = training_set(session)
    try:
        trained = training.train(data.examples, data.labels, seed=seed)
    except ValueError as error:
        raise Invalid.field("decisions", f"cannot train yet: {error}") from None
    held_out = [data.examples[i] for i in trained.test_indices]
    held_labels = [data.labels[i] for i in trained.test_indices]
    current = presort.active_model(session)
    previous_f1 = None
    if current is not None:
        previous_f1 = training.evaluate(current.model, held_out, held_labels)["macro_f1"]
    better = previous_f1 is None or trained.metrics["macro_f1"] >= previous_f1
    version = ClassifierVersion(
        created_by_id=actor.id if actor else None,
        artifact=persistence.dumps(trained.model),
        metrics=trained.metrics,
        labels=list(trained.model.labels),
        taxonomy_version=taxonomy.current_version(session),
        data_fingerprint=data.fingerprint,
    )
    session.add(version)
    session.flush()
    audit.record(
        session,
        actor,
        "classifier.train",
        "classifier_version",
        version.id,
        {
            "macro_f1": trained.metrics["macro_f1"],
            "n_train": trained.metrics["n_train"],
            "previous_macro_f1_same_items": previous_f1,
            "forced": force,
        },
    )
    activated = better or force
    if activated:
        activate(session, actor, version.id)
    return TrainOutcome(
        version, trained.metrics, activated, current.version_id if current else None, previous_f1
    )


def activate(session: Session, actor: User | None, version_id: int) -> ClassifierVersion:
    """Make one version the active one (also a rollback); raise NotFound if unknown."""
    version = session.get(ClassifierVersion, version_id)
    if version is None:
        raise NotFound(f"no classifier version {version_id}")
    previous = session.scalar(sa.select(ClassifierVersion.id).where(ClassifierVersion.active))
    persistence.loads(version.artifact)  # refuse to activate what could not be loaded
    session.execute(
        sa.update(ClassifierVersion).where(ClassifierVersion.active).values(active=False)
    )
    version.active = True
    version.activated_at = utcnow()
    session.flush()
    audit.record(
        session,
        actor,
        "classifier.activate",
        "classifier_version",
        version.id,
        {"previous": previous},
    )
    return version


def rescore_batch(session: Session, batch_size: int = RESCORE_BATCH) -> int:
    """Predict one batch of queued items the active version has not scored; return how many.

    Call until it returns 0 (committing between calls): it resumes where it stopped.
    """
    active = presort.active_model(session)
    if active is None:
        return 0
    items = list(
        session.scalars(
            sa.select(Item)
            .where(Item.status.in_([ItemStatus.OPEN, ItemStatus.CLAIMED]))
            .where(
                sa.or_(
                    Item.prediction_version_id.is_(None),
                    Item.prediction_version_id != active.version_id,
                )
            )
            .order_by(Item.id)
            .limit(batch_size)
        )
    )
    if not items:
        return 0
    presort.predict_items(session, items, active)
    presort.refresh_priorities(session, items)
    session.flush()
    return len(items)


def list_versions(session: Session) -> list[ClassifierVersion]:
    """Return every version, newest first."""
    return list(session.scalars(sa.select(ClassifierVersion).order_by(ClassifierVersion.id.desc())))


def get_version(session: Session, version_id: int) -> ClassifierVersion:
    version = session.get(ClassifierVersion, version_id)
    if version is None:
        raise NotFound(f"no classifier version {version_id}")
    return version


def version_json(version: ClassifierVersion, full: bool = False) -> dict[str, Any]:
    """Return a version's summary (or, with full, all its metrics)."""
    metrics = version.metrics or {}
    data: dict[str, Any] = {
        "version": version.id,
        "active": version.active,
        "created_at": version.created_at.isoformat(),
        "activated_at": version.activated_at.isoformat() if version.activated_at else None,
        "labels": version.labels,
        "taxonomy_version": version.taxonomy_version,
        "data_fingerprint": version.data_fingerprint,
        "n_train": metrics.get("n_train"),
        "n_test": metrics.get("n_test"),
        "macro_f1": metrics.get("macro_f1"),
        "accuracy": metrics.get("accuracy"),
        "ece": metrics.get("ece"),
    }
    if full:
        data["metrics"] = metrics
        data["artifact_bytes"] = len(version.artifact)
    return data
