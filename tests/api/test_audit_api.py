"""GET /api/v1/audit and /api/v1/stats/agreement: the safety team's JSON."""

from datetime import timedelta

import sqlalchemy as sa

from models import Decision, DecisionKind, Item, utcnow
from review.extensions import db
from review.services import ingest
from review.services.flagformat import parse_flag

from factories import bearer, make_token, make_user


def test_audit_lists_events_newest_first_with_filters(client) -> None:
    auditor = make_user("auditor", "sam")
    token = make_token(auditor)  # itself an audited change
    make_user("reviewer", "rita")
    events = client.get("/api/v1/audit", headers=bearer(token)).get_json()["events"]
    actions = [e["action"] for e in events]
    assert actions == ["user.create", "token.create", "user.create"]
    assert set(events[0]) == {"id", "at", "actor", "action", "target_type", "target_id", "changes"}
    only = client.get("/api/v1/audit?action=token.create", headers=bearer(token)).get_json()
    assert [e["action"] for e in only["events"]] == ["token.create"]
    assert only["events"][0]["changes"]["user"] == "sam"
    future = (utcnow() + timedelta(days=1)).date().isoformat()
    later = client.get(f"/api/v1/audit?since={future}", headers=bearer(token)).get_json()
    assert later["events"] == []
    limited = client.get("/api/v1/audit?limit=1", headers=bearer(token)).get_json()
    assert len(limited["events"]) == 1
    bad = client.get("/api/v1/audit?limit=0", headers=bearer(token))
    assert bad.status_code == 422 and bad.get_json()["details"][0]["field"] == "limit"
    assert client.get("/api/v1/audit?since=yesterday", headers=bearer(token)).status_code == 422


def test_audit_is_for_auditors_and_admins(client) -> None:
    reviewer = make_user("reviewer", "rita")
    assert client.get("/api/v1/audit", headers=bearer(make_token(reviewer))).status_code == 403
    assert client.get("/api/v1/audit").status_code == 401
    admin = make_user("admin", "ada")
    assert client.get("/api/v1/audit", headers=bearer(make_token(admin))).status_code == 200


def test_agreement_from_second_reviews(client) -> None:
    auditor = make_user("auditor", "sam")
    r1, r2 = make_user("reviewer", "a"), make_user("reviewer", "b")
    flags = [
        parse_flag({"external_id": f"c{i}", "messages": [{"role": "user", "content": "x"}]})
        for i in range(4)
    ]
    ingest.add_flags(db.session, None, flags)
    items = {i.external_id: i.id for i in db.session.scalars(sa.select(Item))}
    pairs = [
        ("c0", "bias", "bias"),
        ("c1", "bias", "other"),
        ("c2", "other", "other"),
        ("c3", "privacy", None),
    ]
    for ext, first, second in pairs:
        db.session.add(
            Decision(item_id=items[ext], reviewer_id=r1.id, label=first, kind=DecisionKind.FIRST)
        )
        if second:
            db.session.add(
                Decision(
                    item_id=items[ext], reviewer_id=r2.id, label=second, kind=DecisionKind.SECOND
                )
            )
    db.session.commit()
    stats = client.get("/api/v1/stats/agreement", headers=bearer(make_token(auditor))).get_json()
    assert stats["overall"]["n"] == 3
    assert abs(stats["overall"]["agreement"] - 2 / 3) < 1e-9
    # kappa: po = 2/3; pe = (2/3*1/3) + (1/3*2/3) = 4/9 -> (2/3-4/9)/(1-4/9) = 0.4
    assert abs(stats["overall"]["kappa"] - 0.4) < 1e-9
    assert stats["by_category"]["bias"] == {"kappa": 0.0, "agreement": 0.5, "n": 2}
    assert "privacy" not in stats["by_category"]
