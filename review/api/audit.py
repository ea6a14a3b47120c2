"""The safety team's JSON: the audit trail and reviewer agreement."""

from datetime import UTC, datetime

from flask import jsonify, request
from flask.typing import ResponseReturnValue

from models import Role
from review.access import api_roles
from review.api import bp
from review.api.openapi import PATHS, error_response
from review.errors import Invalid
from review.extensions import db
from review.services import agreement, audit


def _since(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        stamp = datetime.fromisoformat(value)
    except ValueError:
        raise Invalid.field("since", "an ISO 8601 date or date-time") from None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    return stamp


@bp.get("/audit")
@api_roles(Role.AUDITOR, Role.ADMIN)
def audit_events() -> ResponseReturnValue:
    limit = request.args.get("limit", "100")
    if not limit.isdigit() or not 1 <= int(limit) <= 1000:
        raise Invalid.field("limit", "a whole number from 1 to 1000")
    events = audit.list_events(
        db.session,
        action=request.args.get("action") or None,
        actor=request.args.get("actor") or None,
        since=_since(request.args.get("since")),
        limit=int(limit),
    )
    return jsonify(events=[audit.to_json(e) for e in events])


@bp.get("/stats/agreement")
@api_roles(Role.AUDITOR, Role.ADMIN)
def agreement_stats() -> ResponseReturnValue:
    return jsonify(agreement.agreement(db.session))


def _query(name: str, kind: str, description: str) -> dict:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": {"type": kind},
    }


PATHS["/audit"] = {
    "get": {
        "summary": "Audit events, newest first",
        "security": [{"bearer": []}],
        "parameters": [
            _query("action", "string", "e.g. decision.create"),
            _query("actor", "string", "a username, or 'system'"),
            _query("since", "string", "ISO 8601 date-time"),
            _query("limit", "integer", "1-1000, default 100"),
        ],
        "responses": {
            "200": {"description": '{"events": [...]}'},
            "401": error_response("no or bad token"),
            "403": error_response("not an auditor or admin"),
            "422": error_response("a bad filter"),
        },
    }
}
PATHS["/stats/agreement"] = {
    "get": {
        "summary": "Cohen's kappa and agreement of first decisions with blind second reviews",
        "security": [{"bearer": []}],
        "responses": {
            "200": {"description": '{"overall": {...}, "by_category": {...}}'},
            "401": error_response("no or bad token"),
            "403": error_response("not an auditor or admin"),
        },
    }
}
