"""The JSON API under /api/v1: bearer tokens, no cookies, no CSRF."""

import json
from typing import Any

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue

from review.access import api_roles
from review.errors import Invalid, Malformed
from review.extensions import db
from review.services import taxonomy
from review.services.flagformat import check_text

bp = Blueprint("api", __name__)


def json_body() -> Any:
    """Return the request's JSON body, or raise Malformed (400) naming the problem."""
    if not request.is_json:
        raise Malformed("send JSON with Content-Type: application/json", [{"field": "body"}])
    try:
        # Cached: a request retried after a lost database connection reads it again.
        return json.loads(request.get_data(cache=True))
    except RecursionError:
        raise Malformed("JSON nested too deeply", [{"field": "body"}]) from None
    except ValueError as error:
        raise Malformed(f"malformed JSON: {error}", [{"field": "body"}]) from None


def json_object(optional: bool = False) -> dict[str, Any]:
    """Return the request's JSON object ({} for an empty body if optional); raise 400 or 422."""
    if optional and not request.get_data(cache=True):
        return {}
    body = json_body()
    if not isinstance(body, dict):
        raise Invalid.field("body", "must be a JSON object")
    return body


def text_field(body: dict[str, Any], name: str, required: bool = False) -> str | None:
    """Return body[name], a string (non-empty if required) or None if absent; raise Invalid.

    The string holds no NUL and no unpaired surrogate; its service checks its length.
    """
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value):
        raise Invalid.field(name, "must be a non-empty string" if required else "must be a string")
    return check_text(value, name, len(value))


@bp.get("/categories")
@api_roles()
def categories() -> ResponseReturnValue:
    return jsonify(categories=[taxonomy.to_json(c) for c in taxonomy.list_categories(db.session)])


from review.api import audit, exports, flags, openapi, queue  # noqa: E402,F401  (register their routes on bp)
