"""The review queue over JSON: claim, decide, skip, escalate, undo, heartbeat, release."""

from datetime import datetime
from typing import Any

from flask import jsonify
from flask.typing import ResponseReturnValue

from models import Decision, Escalation, Item, Role
from review.access import api_roles, bearer_user
from review.api import bp, json_object, text_field
from review.api.openapi import PATH_ID, PATHS, SCHEMAS, error_response, json_content
from review.config import input_limits
from review.errors import Conflict
from review.extensions import db
from review.services import items, presort, queue
from review.services.flagformat import Limits

REVIEWERS = (Role.REVIEWER, Role.ADMIN)


def claim_json(item: Item, lease_expires_at: datetime | None, resumed: bool) -> dict[str, Any]:
    """Return the API's view of a claimed item: what a reviewer needs to decide it."""
    flag = presort.first_flags(db.session, [item.id]).get(item.id)
    prediction = items.prediction_json(item)
    return {
        "id": item.id,
        "external_id": item.external_id,
        "messages": item.messages,
        "flag": None
        if flag is None
        else {
            "reason": flag.reason,
            "category": flag.category,
            "flagged_at": flag.flagged_at.isoformat(),
            "message_index": flag.message_index,
        },
        "prediction": None
        if prediction is None
        else {"label": prediction["label"], "confidence": prediction["confidence"]},
        "queue_category": item.queue_category,
        "lease_expires_at": lease_expires_at.isoformat() if lease_expires_at else None,
        "resumed": resumed,
    }


def decision_json(decision: Decision, reviewer: str) -> dict[str, Any]:
    return {
        "id": decision.id,
        "item_id": decision.item_id,
        "label": decision.label,
        "kind": decision.kind.value,
        "reviewer": reviewer,
        "note": decision.note,
        "corrected_response": decision.corrected_response,
        "queue_category": decision.queue_category,
        "sensitive": decision.sensitive,
        "decided_at": decision.decided_at.isoformat(),
    }


def escalation_json(escalation: Escalation) -> dict[str, Any]:
    return {
        "id": escalation.id,
        "item_id": escalation.item_id,
        "note": escalation.note,
        "created_at": escalation.created_at.isoformat(),
    }


@bp.get("/queue")
@api_roles(*REVIEWERS)
def queue_state() -> ResponseReturnValue:
    user = bearer_user()
    view = queue.overview(db.session, user)
    state = queue.wellbeing(db.session, user)
    held = queue.current_claim(db.session, user)
    return jsonify(
        open_items=view.open_items,
        by_category=[{"slug": s, "name": n, "open": c} for s, n, c in view.by_category],
        decided_today=view.decided_today,
        claim=held.id if held else None,
        wellbeing={
            "sensitive_today": state.sensitive_today,
            "sensitive_cap": state.sensitive_cap,
            "cap_reached": state.cap_reached,
            "minutes_continuous": state.minutes_continuous,
            "break_due": state.break_due,
        },
    )


@bp.post("/queue/claim")
@api_roles(*REVIEWERS)
def claim() -> ResponseReturnValue:
    # An empty category, like none, means any category.
    category = text_field(json_object(optional=True), "category") or None
    result = queue.claim_next(db.session, bearer_user(), category=category)
    if result is None:
        db.session.commit()  # expired leases swept on the way are kept
        return "", 204
    body = claim_json(result.item, result.lease_expires_at, result.resumed)
    db.session.commit()
    return jsonify(body)


@bp.post("/flags/<int:item_id>/decision")
@api_roles(*REVIEWERS)
def decision(item_id: int) -> ResponseReturnValue:
    body = json_object()
    user = bearer_user()
    stored = queue.decide(
        db.session,
        user,
        item_id,
        text_field(body, "label", required=True) or "",
        note=text_field(body, "note") or "",
        corrected_response=text_field(body, "corrected_response"),
        limits=input_limits(),
    )
    result = decision_json(stored, user.username)
    db.session.commit()
    return jsonify(result)


@bp.post("/flags/<int:item_id>/skip")
@api_roles(*REVIEWERS)
def skip(item_id: int) -> ResponseReturnValue:
    queue.skip(db.session, bearer_user(), item_id)
    db.session.commit()
    return jsonify(skipped=item_id)


@bp.post("/flags/<int:item_id>/escalate")
@api_roles(*REVIEWERS)
def escalate(item_id: int) -> ResponseReturnValue:
    note = text_field(json_object(optional=True), "note") or ""
    escalation = queue.escalate(db.session, bearer_user(), item_id, note, limits=input_limits())
    result = escalation_json(escalation)
    db.session.commit()
    return jsonify(result), 201


@bp.post("/queue/undo")
@api_roles(*REVIEWERS)
def undo() -> ResponseReturnValue:
    item = queue.undo_last(db.session, bearer_user())
    body = claim_json(item, item.lease_expires_at, resumed=False)
    db.session.commit()
    return jsonify(body)


@bp.post("/queue/heartbeat")
@api_roles(*REVIEWERS)
def heartbeat() -> ResponseReturnValue:
    expires = queue.heartbeat(db.session, bearer_user())
    if expires is None:
        raise Conflict(
            "you hold no live claim: it was released, decided or its lease expired",
            [{"field": "claim", "message": "no live claim"}],
        )
    db.session.commit()
    return jsonify(lease_expires_at=expires.isoformat())


@bp.post("/queue/release")
@api_roles(*REVIEWERS)
def release() -> ResponseReturnValue:
    item = queue.release(db.session, bearer_user())
    db.session.commit()
    return jsonify(released=item.id if item else None)


# -- OpenAPI ---------------------------------------------------------------------------------

_AUTH = {
    "401": error_response("no or bad token"),
    "403": error_response("not a reviewer or admin token"),
}
_HELD = error_response("the caller does not hold a live claim on the item (never, lost, expired)")


SCHEMAS["ClaimedItem"] = {
    "type": "object",
    "required": ["id", "messages", "flag", "prediction", "lease_expires_at"],
    "properties": {
        "id": {"type": "integer"},
        "external_id": {"type": "string"},
        "messages": {"type": "array", "items": {"$ref": "#/components/schemas/Message"}},
        "flag": {
            "type": "object",
            "nullable": True,
            "properties": {
                "reason": {"type": "string"},
                "category": {"type": "string", "nullable": True},
                "flagged_at": {"type": "string", "format": "date-time"},
                "message_index": {"type": "integer", "nullable": True},
            },
        },
        "prediction": {
            "type": "object",
            "nullable": True,
            "properties": {
                "label": {"type": "string", "nullable": True},
                "confidence": {"type": "number", "nullable": True},
            },
        },
        "queue_category": {"type": "string", "nullable": True},
        "lease_expires_at": {"type": "string", "format": "date-time"},
        "resumed": {"type": "boolean"},
    },
}
SCHEMAS["Decision"] = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "item_id": {"type": "integer"},
        "label": {"type": "string"},
        "kind": {"type": "string", "enum": ["first", "second", "adjudication"]},
        "reviewer": {"type": "string"},
        "note": {"type": "string"},
        "corrected_response": {"type": "string", "nullable": True},
        "queue_category": {"type": "string", "nullable": True},
        "sensitive": {"type": "boolean"},
        "decided_at": {"type": "string", "format": "date-time"},
    },
}

PATHS["/queue"] = {
    "get": {
        "summary": "Queue sizes per category, the caller's claim, decisions today and wellbeing",
        "security": [{"bearer": []}],
        "responses": {"200": {"description": "the queue as the caller sees it"}, **_AUTH},
    }
}
PATHS["/queue/claim"] = {
    "post": {
        "summary": "Claim the next item (or get back the one already held)",
        "security": [{"bearer": []}],
        "requestBody": {
            "required": False,
            **json_content(
                {
                    "type": "object",
                    "properties": {"category": {"type": "string", "nullable": True}},
                }
            ),
        },
        "responses": {
            "200": {
                "description": "the claimed item",
                **json_content({"$ref": "#/components/schemas/ClaimedItem"}),
            },
            "204": {"description": "nothing to review"},
            "400": error_response("malformed JSON"),
            **_AUTH,
            "422": error_response("unknown category"),
        },
    }
}
PATHS["/flags/{id}/decision"] = {
    "post": {
        "summary": "Decide the item the caller holds",
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
                        "corrected_response": {
                            "type": "string",
                            "nullable": True,
                            "maxLength": Limits().max_correction_chars,
                        },
                    },
                }
            ),
        },
        "responses": {
            "200": {
                "description": "the stored decision",
                **json_content({"$ref": "#/components/schemas/Decision"}),
            },
            "400": error_response("malformed JSON"),
            **_AUTH,
            "404": error_response("no such item"),
            "409": _HELD,
            "422": error_response("bad label or correction; details name the field"),
        },
    }
}
PATHS["/flags/{id}/skip"] = {
    "post": {
        "summary": "Pass on the item the caller holds; it is not offered to them again",
        "security": [{"bearer": []}],
        "parameters": PATH_ID,
        "responses": {
            "200": {"description": "skipped"},
            **_AUTH,
            "404": error_response("no such item"),
            "409": _HELD,
        },
    }
}
PATHS["/flags/{id}/escalate"] = {
    "post": {
        "summary": "Send the item the caller holds to the safety team, with a note",
        "security": [{"bearer": []}],
        "parameters": PATH_ID,
        "requestBody": {
            "required": False,
            **json_content(
                {
                    "type": "object",
                    "properties": {
                        "note": {"type": "string", "maxLength": Limits().max_note_chars}
                    },
                }
            ),
        },
        "responses": {
            "201": {"description": "the escalation"},
            "400": error_response("malformed JSON"),
            **_AUTH,
            "404": error_response("no such item"),
            "409": _HELD,
            "422": error_response("note is not a string"),
        },
    }
}
PATHS["/queue/undo"] = {
    "post": {
        "summary": "Undo the caller's last decision (within 5 minutes); the item is theirs again",
        "security": [{"bearer": []}],
        "responses": {
            "200": {
                "description": "the item, claimed again",
                **json_content({"$ref": "#/components/schemas/ClaimedItem"}),
            },
            **_AUTH,
            "409": error_response("no decision of the caller in the last 5 minutes"),
        },
    }
}
PATHS["/queue/heartbeat"] = {
    "post": {
        "summary": "Renew the lease on the caller's claim and count the time as worked",
        "security": [{"bearer": []}],
        "responses": {
            "200": {
                "description": "the new lease end",
                **json_content(
                    {
                        "type": "object",
                        "properties": {
                            "lease_expires_at": {"type": "string", "format": "date-time"}
                        },
                    }
                ),
            },
            **_AUTH,
            "409": error_response("the caller holds no live claim"),
        },
    }
}
PATHS["/queue/release"] = {
    "post": {
        "summary": "Give the caller's claim back to the queue",
        "security": [{"bearer": []}],
        "responses": {
            "200": {
                "description": "the released item id, or null when none was held",
                **json_content(
                    {
                        "type": "object",
                        "properties": {"released": {"type": "integer", "nullable": True}},
                    }
                ),
            },
            **_AUTH,
        },
    }
}
