"""Looking rows up by a batch of keys (an import batch, an export page) in one statement."""

from collections.abc import Collection
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql


def among(dialect: sa.Dialect, column: Any, values: Collection[Any]) -> sa.ColumnElement[bool]:
    """Return `column IN values`; on PostgreSQL as `= ANY(one array parameter)`.

    A batch looks up a thousand keys at once: as an IN list, psycopg re-parses a statement
    with a thousand placeholders on every call and the server plans each one afresh.
    """
    ordered = sorted(values)
    if dialect.name == "postgresql":
        return column == sa.any_(sa.bindparam(None, ordered, type_=postgresql.ARRAY(column.type)))
    return column.in_(ordered)
