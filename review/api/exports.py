"""GET /export (a streamed file) and GET /export/preview (its counts), for trainers."""

from flask import jsonify, request
from flask.typing import ResponseReturnValue

from models import Role
from review.access import api_roles, bearer_user
from review.api import bp
from review.api.openapi import PATHS, error_response
from review.extensions import db
from review.services import exports
from review.streaming import export_response


def _query() -> tuple[str, exports.ExportFilters]:
    return exports.parse_query(request.args.to_dict(flat=False))


@bp.get("/export")
@api_roles(Role.TRAINER, Role.ADMIN)
def export() -> ResponseReturnValue:
    fmt, filters = _query()
    return export_response(exports.stream_export(db.session, bearer_user(), fmt, filters))


@bp.get("/export/preview")
@api_roles(Role.TRAINER, Role.ADMIN)
def export_preview() -> ResponseReturnValue:
    fmt, filters = _query()
    return jsonify(exports.preview(db.session, fmt, filters).to_json())


_PARAMETERS = [
    {
        "name": "format",
        "in": "query",
        "required": True,
        "schema": {"type": "string", "enum": list(exports.FORMATS)},
    },
    {
        "name": "category",
        "in": "query",
        "description": "final labels (current taxonomy); repeat or comma-separate",
        "schema": {"type": "array", "items": {"type": "string"}},
        "style": "form",
        "explode": True,
    },
    {
        "name": "since",
        "in": "query",
        "description": "decided on or after (YYYY-MM-DD or ISO date-time)",
        "schema": {"type": "string"},
    },
    {
        "name": "until",
        "in": "query",
        "description": "decided on or before; a bare date includes that day",
        "schema": {"type": "string"},
    },
    {
        "name": "split",
        "in": "query",
        "description": "train share; sha256(external_id) decides each item's split",
        "schema": {"type": "number", "exclusiveMinimum": True, "minimum": 0, "maximum": 1},
    },
    {
        "name": "part",
        "in": "query",
        "description": "with split: only this part (else each row carries a split field)",
        "schema": {"type": "string", "enum": list(exports.SPLITS)},
    },
    {
        "name": "agreed",
        "in": "query",
        "description": "only adjudicated items and second reviews that agree",
        "schema": {"type": "boolean"},
    },
    {
        "name": "include_escalated",
        "in": "query",
        "description": "keep items with an unresolved escalation",
        "schema": {"type": "boolean"},
    },
    {"name": "model_version", "in": "query", "schema": {"type": "integer", "minimum": 0}},
    {
        "name": "redact",
        "in": "query",
        "description": "mask e-mails, phone numbers, card numbers, IPs and URLs",
        "schema": {"type": "boolean"},
    },
]
_ERRORS = {
    "401": error_response("no or bad token"),
    "403": error_response("not a trainer or admin token"),
    "422": error_response("a parameter is invalid; details name it"),
}
PATHS["/export"] = {
    "get": {
        "summary": "Reviewed examples for retraining, streamed in the chosen format",
        "security": [{"bearer": []}],
        "parameters": _PARAMETERS,
        "responses": {
            "200": {
                "description": "the export file, streamed",
                "content": {
                    spec.media_type.split(";")[0]: {
                        "schema": {"type": "string", "format": "binary"}
                    }
                    for spec in exports.REGISTRY.values()
                },
            },
            **_ERRORS,
        },
    }
}
PATHS["/export/preview"] = {
    "get": {
        "summary": "What the same export would hold: counts per label and split",
        "security": [{"bearer": []}],
        "parameters": _PARAMETERS,
        "responses": {
            "200": {
                "description": "counts",
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "properties": {
                                "format": {"type": "string"},
                                "taxonomy_version": {"type": "integer"},
                                "counts": {"type": "object"},
                            },
                        }
                    }
                },
            },
            **_ERRORS,
        },
    }
}
