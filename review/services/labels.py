"""The label of an item: which decision settles it, and how a label maps onto today's taxonomy.

The one place for both rules (STYLE rule 13): training, exports, agreement, the item view and
anything else that shows or learns "the label of an item" reads it through this module.

Settling. An adjudication beats a second review beats a first decision; within a kind the latest
by (decided_at, id) wins. Undo deletes the decision it takes back (review.services.queue.undo_last),
so an undone decision never settles anything. An item without any decision row (stored before
decisions were recorded) keeps its ``Item.final_label``, read as a label of the current taxonomy.
``Item.final_label`` is otherwise only a cache of the last decision, for the queue's own checks.

Mapping. A label made under taxonomy version v is carried onto the current taxonomy by applying, in
order, the mapping of every version newer than v, each mapping followed to its end (so cumulative
and per-version mappings both work, and a cycle stops). A version's mapping names, per slug it
retires, where that slug's labels go: a single slug (a merge; a retirement goes to ``other``).
Any other target, such as a list of slugs (a split: SRC into several DSTs), or nothing at all,
keeps the label as it is: there is no single answer, so history keeps SRC.

Each rule has a Python form (for rows already read) and a SQL form (for queries); the property
test in tests/services/test_labels.py checks that they agree, and that training and export give
every item the same label.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from models import Decision, DecisionKind, Item, TaxonomyVersion

# Which kind of decision beats which.
KIND_RANK: dict[DecisionKind, int] = {
    DecisionKind.FIRST: 1,
    DecisionKind.SECOND: 2,
    DecisionKind.ADJUDICATION: 3,
}
_RANK_OF_VALUE = {kind.value: rank for kind, rank in KIND_RANK.items()}


# -- which decision settles an item -----------------------------------------------------------


def settling_index(kinds: Sequence[DecisionKind | str]) -> int | None:
    """Return the index of the settling decision among an item's decision kinds, or None.

    The kinds must come in (decided_at, id) order, oldest first: the settling decision is then
    the last one of the highest kind.
    """
    winner, best = None, 0
    for index, kind in enumerate(kinds):
        rank = _RANK_OF_VALUE[kind]  # a DecisionKind is its own value (StrEnum)
        if rank >= best:
            winner, best = index, rank
    return winner


def _rank() -> sa.ColumnElement[int]:
    return sa.case(*((Decision.kind == kind, rank) for kind, rank in KIND_RANK.items()), else_=0)


def settling_order() -> tuple[sa.ColumnElement[Any], ...]:
    """Return the ORDER BY under which an item's settling decision comes first."""
    return (_rank().desc(), Decision.decided_at.desc(), Decision.id.desc())


def latest_order() -> tuple[sa.ColumnElement[Any], ...]:
    """Return the ORDER BY under which the latest decision (of a kind) comes first."""
    return (Decision.decided_at.desc(), Decision.id.desc())


def settling_decisions(item_ids: Sequence[int] | None = None) -> sa.Subquery:
    """Return a subquery of each item's settling decision: item_id, id, kind, label, version.

    Set-based (a window over the decisions): for reading many items at once. Only items with
    at least one decision have a row; with item_ids, only those items.
    """
    number = sa.func.row_number().over(partition_by=Decision.item_id, order_by=settling_order())
    query = sa.select(
        Decision.item_id,
        Decision.id,
        Decision.kind,
        Decision.label,
        Decision.taxonomy_version,
        number.label("n"),
    )
    if item_ids is not None:
        query = query.where(Decision.item_id.in_(sorted(item_ids)))
    ranked = query.subquery()
    return (
        sa.select(
            ranked.c.item_id,
            ranked.c.id,
            ranked.c.kind,
            ranked.c.label,
            ranked.c.taxonomy_version,
        )
        .where(ranked.c.n == 1)
        .subquery("settling")
    )


def latest_decisions(kinds: Sequence[DecisionKind]) -> sa.Subquery:
    """Return a subquery of each item's latest decision of each of kinds (the rule within a kind).

    Columns item_id, id, kind, label, taxonomy_version; one row per item and kind it has.
    """
    number = sa.func.row_number().over(
        partition_by=(Decision.item_id, Decision.kind), order_by=latest_order()
    )
    ranked = (
        sa.select(
            Decision.item_id,
            Decision.id,
            Decision.kind,
            Decision.label,
            Decision.taxonomy_version,
            number.label("n"),
        )
        .where(Decision.kind.in_(list(kinds)))
        .subquery()
    )
    return (
        sa.select(
            ranked.c.item_id, ranked.c.id, ranked.c.kind, ranked.c.label, ranked.c.taxonomy_version
        )
        .where(ranked.c.n == 1)
        .subquery("latest")
    )


# -- how a label maps onto the current taxonomy -------------------------------------------------


def _follow(mapping: dict[str, Any], label: str) -> str:
    """Return where one version's mapping takes label (a non-slug target keeps it)."""
    seen = {label}
    while isinstance(target := mapping.get(label), str) and target and target not in seen:
        seen.add(target)
        label = target
    return label


@dataclass
class TaxonomyHistory:
    """The taxonomy's versions, to carry a label made under any of them onto the current one."""

    versions: list[tuple[int, dict[str, Any]]]  # (version id, mapping), oldest first
    _cache: dict[tuple[str, int], str] = field(default_factory=dict, repr=False)

    @classmethod
    def load(cls, session: Session) -> "TaxonomyHistory":
        """Read every version's mapping (one query)."""
        rows = session.execute(
            sa.select(TaxonomyVersion.id, TaxonomyVersion.mapping).order_by(TaxonomyVersion.id)
        ).all()
        return cls([(number, mapping or {}) for number, mapping in rows])

    @property
    def current(self) -> int:
        """Return the current version's number (1 for a database without versions)."""
        return self.versions[-1][0] if self.versions else 1

    def map(self, label: str, version: int) -> str:
        """Return label, made under version, as the current taxonomy names it."""
        key = (label, version)
        mapped = self._cache.get(key)
        if mapped is None:
            mapped = label
            for number, mapping in self.versions:
                if number > version:
                    mapped = _follow(mapping, mapped)
            self._cache[key] = mapped
        return mapped

    def sql(
        self, label: sa.ColumnElement[str], version: sa.ColumnElement[int]
    ) -> sa.ColumnElement[str]:
        """Return the SQL form of map(): label (made under version) in today's taxonomy.

        A CASE over the labels some version moves: for each, the version ranges in which a
        label made there lands elsewhere. Everything else is the label itself.
        """
        moved = sorted({str(slug) for _number, mapping in self.versions for slug in mapping})
        numbers = [number for number, _mapping in self.versions]
        whens: list[tuple[sa.ColumnElement[bool], str]] = []
        for slug in moved:
            # Made before numbers[0], then in [numbers[i], numbers[i + 1]), ...: each range
            # is mapped by the versions after it, so one representative answers for it.
            ranges = [(numbers[0], self.map(slug, numbers[0] - 1))]
            ranges += [(upper, self.map(slug, lower)) for lower, upper in pairwise(numbers)]
            while ranges and ranges[-1][1] == slug:
                ranges.pop()  # at and after the last change, the label is itself
            merged: list[tuple[int, str]] = []
            for upper, target in ranges:
                if merged and merged[-1][1] == target:
                    merged[-1] = (upper, target)
                else:
                    merged.append((upper, target))
            whens += [(sa.and_(label == slug, version < upper), t) for upper, t in merged]
        if not whens:
            return label
        return sa.case(*whens, else_=label)


# -- the final label ------------------------------------------------------------------------


def final_label(
    history: TaxonomyHistory,
    decisions: Iterable[tuple[DecisionKind | str, str, int]],
    stored: str | None = None,
) -> str | None:
    """Return an item's final label in today's taxonomy (Python form), or None if it has none.

    decisions are the item's (kind, label, taxonomy_version), in (decided_at, id) order; stored
    is its Item.final_label, which counts only when it has no decision.
    """
    rulings = list(decisions)
    index = settling_index([kind for kind, _label, _version in rulings])
    if index is None:
        return stored
    _kind, label, version = rulings[index]
    return history.map(label, version)


def final_label_sql(history: TaxonomyHistory) -> sa.ColumnElement[str]:
    """Return the SQL form of final_label(), correlated to Item: for one item per row.

    A scalar subquery per item (it walks ix_decisions_item_id); settling_decisions() reads
    many items at once.
    """
    settled = (
        sa.select(history.sql(Decision.label, Decision.taxonomy_version))
        .where(Decision.item_id == Item.id)
        .order_by(*settling_order())
        .limit(1)
        .correlate(Item)
        .scalar_subquery()
    )
    return sa.func.coalesce(settled, Item.final_label)


def final_label_rows(
    history: TaxonomyHistory, item_ids: Sequence[int] | None = None
) -> sa.Subquery:
    """Return the SQL form of final_label() for many items: a subquery of (item_id, label).

    One row per item that has a final label (optionally only items in item_ids); set-based,
    for joining to a query over many items.
    """
    settled = settling_decisions(item_ids)
    label = sa.func.coalesce(
        history.sql(settled.c.label, settled.c.taxonomy_version), Item.final_label
    )
    query = (
        sa.select(Item.id.label("item_id"), label.label("label"))
        .outerjoin(settled, settled.c.item_id == Item.id)
        .where(sa.or_(settled.c.item_id.is_not(None), Item.final_label.is_not(None)))
    )
    if item_ids is not None:
        query = query.where(Item.id.in_(sorted(item_ids)))
    return query.subquery("final_label")


def final_labels(
    session: Session, item_ids: Sequence[int] | None = None, history: TaxonomyHistory | None = None
) -> dict[int, str]:
    """Return item id -> final label in today's taxonomy, for every item that has one.

    With item_ids, only for those items. One query (plus one for the history if not given).
    """
    rows = final_label_rows(history or TaxonomyHistory.load(session), item_ids)
    return {item_id: label for item_id, label in session.execute(sa.select(rows))}
