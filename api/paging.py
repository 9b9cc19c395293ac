"""Cursor paging, the same for every list: newest first by id; ``next_cursor`` continues after the last item
(stable while records are added, unlike page numbers)."""

from __future__ import annotations

import base64
import binascii

from pydantic import Field
from sqlalchemy import Select
from sqlalchemy.orm import InstrumentedAttribute

from api.operations import Query
from api.problems import ApiProblem, FieldError

MAX_LIMIT = 200


class PageQuery(Query):
    limit: int = Field(default=50, ge=1, le=MAX_LIMIT, description="Items per page, 1–200")
    cursor: str | None = Field(default=None, max_length=40, description="The next_cursor of the previous page")


def encode(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"id:{last_id}".encode()).decode().rstrip("=")


def decode(cursor: str | None) -> int | None:
    if cursor is None or cursor == "":
        return None
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, _, value = text.partition(":")
        number = int(value)
        if kind != "id" or number < 0:
            raise ValueError(text)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ApiProblem(400, "the cursor is not one this API gave",
                         errors=[FieldError(field="query.cursor", message="unknown cursor")]) from None
    return number


def page(stmt: Select, id_col: InstrumentedAttribute, q: PageQuery) -> Select:
    after = decode(q.cursor)
    if after is not None:
        stmt = stmt.where(id_col < after)
    return stmt.order_by(id_col.desc()).limit(q.limit + 1)


def cut(rows: list, q: PageQuery, id_of=lambda r: r.id) -> tuple[list, str | None]:  # noqa: ANN001
    """The page's rows and the cursor of the next page (None on the last)."""
    if len(rows) <= q.limit:
        return rows, None
    rows = rows[: q.limit]
    return rows, encode(id_of(rows[-1]))
