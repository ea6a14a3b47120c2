"""Agreement between first decisions and blind second reviews."""

from collections import defaultdict
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from models import Decision, DecisionKind


def _stats(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    if not pairs:
        return {"kappa": None, "agreement": None, "n": 0}
    from sklearn.metrics import cohen_kappa_score  # on first use, see classifiers/pipeline.py

    first, second = zip(*pairs, strict=True)
    agreed = sum(a == b for a, b in pairs) / len(pairs)
    # Kappa is undefined when both raters used one and the same label throughout.
    kappa = None if len(set(first) | set(second)) < 2 else float(cohen_kappa_score(first, second))
    return {"kappa": kappa, "agreement": agreed, "n": len(pairs)}


def agreement(session: Session) -> dict[str, Any]:
    """Return Cohen's kappa and raw agreement, overall and by the first decision's label."""
    latest = {}
    rows = session.execute(
        sa.select(Decision.item_id, Decision.kind, Decision.label)
        .where(Decision.kind.in_([DecisionKind.FIRST, DecisionKind.SECOND]))
        .order_by(Decision.item_id, Decision.decided_at, Decision.id)
    )
    for item_id, kind, label in rows:
        latest[(item_id, kind)] = label  # the last of each kind counts
    pairs = [
        (label, latest[(item_id, DecisionKind.SECOND)])
        for (item_id, kind), label in latest.items()
        if kind == DecisionKind.FIRST and (item_id, DecisionKind.SECOND) in latest
    ]
    by_label: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for first, second in pairs:
        by_label[first].append((first, second))
    return {
        "overall": _stats(pairs),
        "by_category": {slug: _stats(p) for slug, p in sorted(by_label.items())},
    }
