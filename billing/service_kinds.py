"""Service kinds as data: the services the town bills (surface water, irrigation, fire line,
…), each with its revenue and receivable GL accounts (ledger.chart.add_service_kind)."""

from __future__ import annotations

import re

import sqlalchemy as sa
from sqlalchemy.orm import Session, aliased

from core.audit import Actor
from ledger.chart import ChartError
from ledger.chart import add_service_kind as add_to_chart
from ledger.models import GLAccount, GLCategory, GLType, ServiceKind

#: Service codes: lower-case letters, digits and _, starting with a letter ("surface_water").
CODE_RE = re.compile(r"^[a-z][a-z0-9_]{1,31}$")


class ServiceKindError(ValueError):
    """A service kind that cannot be added; the message names the field."""


def service_kinds(session: Session) -> list[tuple[ServiceKind, str, str]]:
    """Every service kind with its revenue and receivable GL codes, by code."""
    revenue, receivable = aliased(GLAccount), aliased(GLAccount)
    return [
        tuple(row)
        for row in session.execute(
            sa.select(ServiceKind, revenue.code, receivable.code)
            .join(revenue, revenue.id == ServiceKind.revenue_gl_id)
            .join(receivable, receivable.id == ServiceKind.receivable_gl_id)
            .order_by(ServiceKind.code)
        )
    ]


def _existing(
    session: Session, field: str, code: str, gl_type: GLType, category: GLCategory
) -> GLAccount:
    """An existing GL account of the type and category the field needs, used by no service."""
    account = session.scalar(sa.select(GLAccount).where(GLAccount.code == code.strip()))
    if account is None:
        raise ServiceKindError(f"{field}: no GL account {code!r}")
    if (account.type, account.category) != (gl_type, category) or not account.active:
        raise ServiceKindError(
            f"{field}: GL account {account.code} ({account.name}) is not an active "
            f"{category.value.replace('_', ' ')} account"
        )
    column = (
        ServiceKind.revenue_gl_id
        if category == GLCategory.REVENUE
        else ServiceKind.receivable_gl_id
    )
    used_by = session.scalar(sa.select(ServiceKind.code).where(column == account.id))
    if used_by is not None:
        raise ServiceKindError(
            f"{field}: GL account {account.code} is already the {category.value} of {used_by}"
        )
    return account


def add_service_kind(
    session: Session,
    actor: Actor,
    *,
    code: str,
    name: str,
    metered: bool,
    revenue_code: str | None = None,
    receivable_code: str | None = None,
) -> tuple[ServiceKind, str, str]:
    """Add a service kind; returns it with its revenue and receivable GL codes.

    Existing GL accounts may be named; otherwise new ones are opened in the chart.
    """
    code = (code or "").strip()
    if not CODE_RE.match(code):
        raise ServiceKindError(
            f"code: {code!r} is not a service code (2-32 lower-case letters, digits or _, "
            "starting with a letter)"
        )
    if session.get(ServiceKind, code) is not None:
        raise ServiceKindError(f"code: service {code} already exists")
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise ServiceKindError("name: a service needs a name of at most 100 characters")
    revenue = receivable = None
    if revenue_code:
        revenue = _existing(session, "revenue_gl", revenue_code, GLType.REVENUE, GLCategory.REVENUE)
    if receivable_code:
        receivable = _existing(
            session, "receivable_gl", receivable_code, GLType.ASSET, GLCategory.RECEIVABLE
        )
    try:
        kind = add_to_chart(
            session,
            actor,
            code=code,
            name=name,
            metered=metered,
            receivable=receivable,
            revenue=revenue,
        )
    except ChartError as error:
        raise ServiceKindError(f"code: {error}") from None
    codes = dict(session.execute(sa.select(GLAccount.id, GLAccount.code)).all())
    return kind, codes[kind.revenue_gl_id], codes[kind.receivable_gl_id]
