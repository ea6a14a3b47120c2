"""The safety team's JSON: the audit trail and reviewer agreement."""

from datetime import UTC, datetime

from flask import jsonify, request
from flask.typing import ResponseReturnValue

from models import Role
from review.access import api_roles, bearer_user
from review.api import bp, json_object, text_field
from review.api.openapi import PATH_ID, PATHS, error_response, json_content
from review.api.queue import decision_json
from review.config import input_limits
from review.errors import Invalid
from review.extensions import db
from review.services import agreement, audit, labels, queue
from review.services.flagformat import Limits


def _since(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        stamp = datetime.fromisoformat(value)
    except ValueError:
        raise Invalid.field("since", "an ISO 8601 date or date-time") from None
    try:
        return stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+14:00 is before year 1 in UTC
        raise Invalid.field("since", "out of range") from None


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


@bp.get("/escalations")
@api_roles(Role.AUDITOR, Role.ADMIN)
def escalations() -> ResponseReturnValue:
    open_items = queue.open_escalations(db.session)
    finals = labels.final_labels(db.session, [item.id for _, item in open_items])
    return jsonify(
        escalations=[
            {
                "id": escalation.id,
                "item_id": item.id,
                "external_id": item.external_id,
                "note": escalation.note,
                "created_at": escalation.created_at.isoformat(),
                "item_status": item.status.value,
                "final_label": finals.get(item.id),
            }
            for escalation, item in open_items
        ]
    )


@bp.post("/escalations/<int:escalation_id>/resolve")
@api_roles(Role.AUDITOR, Role.ADMIN)
def resolve_escalation(escalation_id: int) -> ResponseReturnValue:
    body = json_object()
    label = text_field(body, "label", required=True) or ""
    note = text_field(body, "note") or ""
    actor = bearer_user()
    decision = queue.resolve_escalation(
        db.session, actor, escalation_id, label, note, limits=input_limits()
    )
    result = decision_json(decision, actor.username)
    db.session.commit()
    return jsonify(result)


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
            {
                **_query("since", "string", "ISO 8601 date-time"),
                "schema": {"type": "string", "format": "date-time"},
            },
            {
                **_query("limit", "integer", "1-1000, default 100"),
                "schema": {"type": "integer", "minimum": 1, "maximum": 1000},
            },
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
PATHS["/escalations"] = {
    "get": {
        "summary": "Open escalations (reviewers' and second-review disagreements), oldest first",
        "security": [{"bearer": []}],
        "responses": {
            "200": {"description": '{"escalations": [{"id", "item_id", "note", ...}]}'},
            "401": error_response("no or bad token"),
            "403": error_response("not an auditor or admin"),
        },
    }
}
PATHS["/escalations/{id}/resolve"] = {
    "post": {
        "summary": "Settle an escalated item with a label: an adjudication decision",
        "security": [{"bearer": []}],
        "parameters": PATH_ID,
        "requestBody": {
            "required": True,
            **json_content(
                {
                    "type": "object",
                    "required": ["label"],
                    "properties": {
                        "label": {"type": "string", "minLength": 1, "maxLength": 64},
                        "note": {"type": "string", "maxLength": Limits().max_note_chars},
                    },
                }
            ),
        },
        "responses": {
            "200": {"description": "the adjudication decision"},
            "400": error_response("malformed JSON"),
            "401": error_response("no or bad token"),
            "403": error_response("not an auditor or admin"),
            "404": error_response("no such escalation"),
            "409": error_response("resolved already"),
            "422": error_response("a bad label or note"),
        },
    }
}
