"""The JSON API under /api/v1: bearer tokens, no cookies, no CSRF."""

import json
from typing import Any

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue

from review.access import api_roles
from review.errors import Malformed
from review.extensions import db
from review.services import taxonomy

bp = Blueprint("api", __name__)


def json_body() -> Any:
    """Return the request's JSON body, or raise Malformed (400) naming the problem."""
    if not request.is_json:
        raise Malformed("send JSON with Content-Type: application/json", [{"field": "body"}])
    try:
        return json.loads(request.get_data(cache=False))
    except RecursionError:
        raise Malformed("JSON nested too deeply", [{"field": "body"}]) from None
    except ValueError as error:
        raise Malformed(f"malformed JSON: {error}", [{"field": "body"}]) from None


@bp.get("/categories")
@api_roles()
def categories() -> ResponseReturnValue:
    return jsonify(categories=[taxonomy.to_json(c) for c in taxonomy.list_categories(db.session)])


from review.api import audit, exports, flags, openapi, queue  # noqa: E402,F401  (register their routes on bp)
