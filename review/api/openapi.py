"""The OpenAPI 3 document, assembled from the paths each API module declares."""

from typing import Any

from flask import jsonify
from flask.typing import ResponseReturnValue

from review.api import bp

ERROR = {"$ref": "#/components/schemas/Error"}


# The integer id in a path such as /flags/{id}.
PATH_ID = [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}]


def json_content(schema: dict[str, Any]) -> dict[str, Any]:
    """Return an OpenAPI body (request or response) of JSON in schema."""
    return {"content": {"application/json": {"schema": schema}}}


def error_response(description: str) -> dict[str, Any]:
    """Return an OpenAPI response whose body is the error shape."""
    return {"description": description, **json_content(ERROR)}


# Each API module adds its paths here when it is imported.
PATHS: dict[str, dict[str, Any]] = {
    "/categories": {
        "get": {
            "summary": "The taxonomy: every category with its display name and marks",
            "security": [{"bearer": []}],
            "responses": {
                "200": {
                    "description": "categories",
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "categories": {
                                        "type": "array",
                                        "items": {"$ref": "#/components/schemas/Category"},
                                    }
                                },
                            }
                        }
                    },
                },
                "401": {
                    "description": "no or bad token",
                    "content": {"application/json": {"schema": ERROR}},
                },
            },
        }
    },
    "/openapi.json": {
        "get": {
            "summary": "This document",
            "security": [],
            "responses": {"200": {"description": "OpenAPI 3 document"}},
        }
    },
}

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error", "details"],
        "properties": {
            "error": {"type": "string"},
            "details": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
                },
            },
        },
    },
    "Message": {
        "type": "object",
        "required": ["role", "content"],
        "properties": {
            "role": {"type": "string", "enum": ["system", "user", "assistant", "tool"]},
            "content": {"type": "string", "minLength": 1},
        },
    },
    "FlagIn": {
        "type": "object",
        "description": (
            "A native flag; an OpenAI chat line ({messages} alone) or a ShareGPT line "
            "({conversations}) is accepted too. Without external_id (or id) the id is derived "
            "from the content."
        ),
        "required": ["messages"],
        "properties": {
            "external_id": {
                "nullable": True,
                "anyOf": [
                    {"type": "string", "minLength": 1, "maxLength": 200},
                    {"type": "integer"},
                ],
            },
            "messages": {
                "type": "array",
                "minItems": 1,
                "items": {"$ref": "#/components/schemas/Message"},
            },
            "flag": {
                "type": "object",
                "nullable": True,
                "properties": {
                    "reason": {"type": "string", "nullable": True},
                    "category": {"type": "string", "nullable": True},
                    "flagged_at": {"type": "string", "format": "date-time", "nullable": True},
                    "message_index": {"type": "integer", "minimum": 0, "nullable": True},
                },
            },
            "metadata": {"type": "object", "nullable": True},
            "label": {"type": "string", "nullable": True},
        },
    },
    "Category": {
        "type": "object",
        "properties": {
            "slug": {"type": "string"},
            "name": {"type": "string"},
            "description": {"type": "string"},
            "guideline": {"type": "string"},
            "severity": {"type": "integer"},
            "sensitive": {"type": "boolean"},
            "active": {"type": "boolean"},
            "position": {"type": "integer"},
        },
    },
}


def document() -> dict[str, Any]:
    """Return the whole OpenAPI document."""
    return {
        "openapi": "3.0.3",
        "info": {"title": "flagq API", "version": "1"},
        "servers": [{"url": "/api/v1"}],
        "paths": PATHS,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


@bp.get("/openapi.json")
def openapi() -> ResponseReturnValue:
    return jsonify(document())
