"""Demo data: the synthetic flags `make run` and `flagq demo` load."""

from dataclasses import dataclass, replace

from sqlalchemy.orm import Session

from models import User
from review.services import ingest
from review.services.demo_data import generate_flags
from review.services.flagformat import parse_flag

BATCH = 500


@dataclass(frozen=True)
class DemoResult:
    inserted: int
    decided: int


def add_demo_flags(
    session: Session,
    actor: User | None,
    count: int = 360,
    seed: int = 7,
    decided_share: float = 0.3,
) -> DemoResult:
    """Add synthetic flags; a share arrives already decided, as past reviews to train from.

    Idempotent for a given seed: the external ids derive from it.
    """
    raw = generate_flags(count=count, seed=seed)
    cut = int(len(raw) * decided_share)
    decided = 0
    total = 0
    for start in range(0, len(raw), BATCH):
        chunk = raw[start : start + BATCH]
        labeled, unlabeled = [], []
        for offset, line in enumerate(chunk):
            line = {**line, "external_id": f"{line['external_id']}-s{seed}"}
            flag = parse_flag(line)
            (labeled if start + offset < cut else unlabeled).append(flag)
        if labeled:
            done = ingest.add_flags(session, actor, labeled, source="demo", labeled=True)
            decided += done.new_items
            total += done.inserted
        # Open items keep their true label out of the queue: reviewers decide them.
        opened = [replace(flag, label=None) for flag in unlabeled]
        total += ingest.add_flags(session, actor, opened, source="demo").inserted
    return DemoResult(inserted=total, decided=decided)
