"""Agreement between first decisions and blind second reviews."""

from collections import defaultdict
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from models import DecisionKind
from review.services import labels


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
    """Return Cohen's kappa and raw agreement, overall and by the first decision's label.

    Each item pairs its latest first decision with its latest second review (see
    review.services.labels), both labels in today's taxonomy.
    """
    history = labels.TaxonomyHistory.load(session)
    latest = labels.latest_decisions([DecisionKind.FIRST, DecisionKind.SECOND])
    rows = session.execute(
        sa.select(latest.c.item_id, latest.c.kind, latest.c.label, latest.c.taxonomy_version)
    )
    by_item: dict[int, dict[DecisionKind, str]] = defaultdict(dict)
    for item_id, kind, label, version in rows:
        by_item[item_id][kind] = history.map(label, version)
    pairs = [
        (kinds[DecisionKind.FIRST], kinds[DecisionKind.SECOND])
        for _item_id, kinds in sorted(by_item.items())
        if len(kinds) == 2
    ]
    by_label: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for first, second in pairs:
        by_label[first].append((first, second))
    return {
        "overall": _stats(pairs),
        "by_category": {slug: _stats(p) for slug, p in sorted(by_label.items())},
    }
