"""One page of a query for flask-smorest's paginate(), with the total for X-Pagination."""

from __future__ import annotations

import sqlalchemy as sa

from core.extensions import db


def page_of(query: sa.Select, pagination_parameters) -> list:
    """The requested page of query's rows; sets the total item count."""
    page = pagination_parameters
    page.item_count = db.session.scalar(sa.select(sa.func.count()).select_from(query.subquery()))
    if page.first_item >= page.item_count:
        return []  # past the last page; an offset that large may not even fit the database
    return db.session.scalars(
        query.limit(page.page_size).offset((page.page - 1) * page.page_size)
    ).all()
