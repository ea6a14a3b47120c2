"""POST /flags (ingest from the chatbot product) and GET /flags/{id}."""

from typing import Any

from flask import jsonify
from flask.typing import ResponseReturnValue

from models import Role
from review.access import api_roles, bearer_user
from review.api import bp, json_body
from review.api.openapi import PATH_ID, PATHS, error_response
from review.config import input_limits
from review.errors import Invalid, TooLarge
from review.extensions import db
from review.services import ingest, items
from review.services.flagformat import FlagIn, Limits, parse_flag


def _parse_body(body: Any, limits: Limits) -> list[FlagIn]:
    """Validate every flag of the body; raise one Invalid listing each bad field."""
    if not isinstance(body, dict):
        raise Invalid.field("body", 'must be a JSON object (one flag, or {"flags": [...]})')
    if "flags" not in body:
        return [parse_flag(body, limits)]
    raw = body["flags"]
    if not isinstance(raw, list) or not raw:
        raise Invalid.field("flags", "must be a non-empty array of flags")
    if len(raw) > limits.max_batch:
        raise TooLarge(
            f"at most {limits.max_batch} flags per request",
            [{"field": "flags", "message": f"{len(raw)} flags sent"}],
        )
    flags: list[FlagIn] = []
    details: list[dict[str, Any]] = []
    for i, item in enumerate(raw):
        try:
            flags.append(parse_flag(item, limits, path=f"flags[{i}]"))
        except Invalid as error:
            details += error.details
    if details:
        first = details[0]
        more = f" (and {len(details) - 1} more)" if len(details) > 1 else ""
        raise Invalid(f"{first['field']}: {first['message']}{more}", details)
    return flags


@bp.post("/flags")
@api_roles(Role.INTEGRATION, Role.ADMIN)
def post_flags() -> ResponseReturnValue:
    flags = _parse_body(json_body(), input_limits())
    result = ingest.add_flags(db.session, bearer_user(), flags, source="api")
    db.session.commit()
    return jsonify(ids=result.ids, duplicates=result.duplicates), 201


@bp.get("/flags/<int:item_id>")
@api_roles()
def get_flag(item_id: int) -> ResponseReturnValue:
    return jsonify(items.readable_item(db.session, bearer_user(), item_id))


PATHS["/flags"] = {
    "post": {
        "summary": 'Ingest one flag, or a batch {"flags": [...]}; all or nothing',
        "description": (
            "The same external_id flagged again adds a flag to its item; the very same flag "
            "(same external_id, flagged_at, reason and category) is listed in duplicates and "
            "adds nothing; a new id whose conversation is already stored is linked to it as a "
            "duplicate. Any invalid flag fails the whole request with 422, each bad field named "
            "by its path (flags[3].messages[1].role). `label` is ignored here (see flagq import "
            "--labeled). Limits: FLAGQ_LIMITS (README)."
        ),
        "security": [{"bearer": []}],
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "oneOf": [
                            {"$ref": "#/components/schemas/FlagIn"},
                            {
                                "type": "object",
                                "required": ["flags"],
                                "properties": {
                                    "flags": {
                                        "type": "array",
                                        "minItems": 1,
                                        "maxItems": Limits().max_batch,
                                        "items": {"$ref": "#/components/schemas/FlagIn"},
                                    }
                                },
                            },
                        ]
                    }
                }
            },
        },
        "responses": {
            "201": {
                "description": "stored",
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "properties": {
                                "ids": {"type": "array", "items": {"type": "integer"}},
                                "duplicates": {"type": "array", "items": {"type": "string"}},
                            },
                        }
                    }
                },
            },
            "400": error_response("malformed JSON"),
            "401": error_response("no or bad token"),
            "403": error_response("not an integration or admin token"),
            "413": error_response("body or batch too large"),
            "422": error_response("a flag is invalid; details name the field"),
        },
    }
}
PATHS["/flags/{id}"] = {
    "get": {
        "summary": "One flagged conversation with its flags, prediction and decisions",
        "description": (
            "Auditors, trainers and admins read any item. A reviewer reads an item they hold "
            "or have decided; holding a blind second review, they get no decisions and no "
            "final_label. Any other item is 404 to a reviewer, as if it did not exist."
        ),
        "security": [{"bearer": []}],
        "parameters": PATH_ID,
        "responses": {
            "200": {"description": "the item"},
            "401": error_response("no or bad token"),
            "403": error_response("an integration token"),
            "404": error_response("no such item, or not one the reviewer may read"),
        },
    }
}
