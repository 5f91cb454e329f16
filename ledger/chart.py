"""The chart of accounts: the seeded accounts and the ones added with services and jurisdictions.

The base chart is created by the first migration for every new database;
`add_service_kind` and `add_jurisdiction` extend it with the accounts a new
service or taxing body needs.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from core.audit import Actor, record
from ledger.models import GLAccount, GLCategory, GLType, ServiceKind, TaxingJurisdiction

#: Fixed codes of the base chart (docs/ledger.md lists the whole chart).
BANK = "1000"
CASH_DRAWER = "1010"
STRIPE_CLEARING = "1020"
DISPUTED_FUNDS = "1030"
#: Checks and bill-pay payments a bank's remittance file reported; a deposit step moves them to
#: BANK (docs/lockbox.md).
LOCKBOX_CLEARING = "1040"
#: Money on its way to the bank: a deposit made (drawers, lockbox batches) not yet at the bank.
DEPOSITS_IN_TRANSIT = "1050"
TAX_RECEIVABLE = "1100"
PENALTY_RECEIVABLE = "1190"
UNAPPLIED_CREDITS = "2000"
REFUNDS_PAYABLE = "2010"
#: Money a remittance file brought that no account could take yet: the exception queue's items
#: until a clerk applies or returns them (docs/lockbox.md).
REMITTANCES_HELD = "2040"
FUND_BALANCE = "3000"
#: The other side of a conversion's opening entries; nets to zero once the old system's
#: trial balance is brought over (docs/conversion.md).
CONVERSION_CLEARING = "3900"
PENALTY_REVENUE = "4500"
INTEREST_REVENUE = "4510"
#: Convenience fees the town charges payers and keeps (payments/convenience_fees.py).
CONVENIENCE_FEE_REVENUE = "4530"
#: Convenience fees collected for a third-party processor, owed to it (docs/payments.md).
CONVENIENCE_FEES_PAYABLE = "2050"
#: Returned-payment fees charged when a resident's bank sends a debit back (payments.ach_returns).
RETURNED_PAYMENT_FEES = "4520"
#: The reconnection fee of a shutoff rule, charged when a crew shuts the service off.
RECONNECTION_FEES = "4540"
PROCESSOR_FEES = "5000"
WRITE_OFFS = "5100"
#: Customer deposits held: a liability to the residents (the deposit register ties to it).
DEPOSITS_HELD = "2020"
#: What estimated first installments of property tax billed, until the year's levies are known
#: and its bill moves it to the taxing jurisdictions (billing/estimates.py).
ESTIMATED_TAX = "2030"
INTEREST_ON_DEPOSITS = "5200"
#: What a drawer's count differs from what it took: over is a credit, short a debit.
CASH_OVER_SHORT = "5300"
#: What the bank charges (account fees, returned-item fees), posted from its statement.
BANK_FEES = "5400"


class ChartError(ValueError):
    """A chart-of-accounts change that cannot be made."""


def gl_codes(session: Session) -> dict[int, str]:
    """Every GL account's code by its id (the chart is small; one query)."""
    return dict(session.execute(sa.select(GLAccount.id, GLAccount.code)).all())


def _next_code(session: Session, prefix: str) -> str:
    """The next free code "<prefix>NN" within a block of the chart."""
    codes = session.scalars(
        sa.select(GLAccount.code).where(GLAccount.code.like(f"{prefix}%"))
    ).all()
    used = {int(c[len(prefix) :]) for c in codes if c[len(prefix) :].isdigit()}
    candidates = [*range(10, 100, 10), *range(11, 100)]
    number = next((n for n in candidates if n not in used), None)
    if number is None:
        raise ChartError(f"the {prefix}xx block of the chart is full")
    return f"{prefix}{number:02d}"


def add_service_kind(
    session: Session,
    actor: Actor,
    *,
    code: str,
    name: str,
    metered: bool,
    receivable: GLAccount | None = None,
    revenue: GLAccount | None = None,
) -> ServiceKind:
    """Define a billed service with its own receivable and revenue accounts.

    The accounts are created in the chart's receivable and revenue blocks unless existing
    ones are given (billing.service_kinds checks that they fit).
    """
    code = code.strip().lower()
    if not code.replace("_", "").isalnum():
        raise ChartError(f"service code {code!r} may hold only letters, digits and _")
    if session.get(ServiceKind, code) is not None:
        raise ChartError(f"service {code} already exists")
    receivable = receivable or GLAccount(
        code=_next_code(session, "11"),
        name=f"Receivable - {name}",
        type=GLType.ASSET,
        category=GLCategory.RECEIVABLE,
    )
    session.add(receivable)
    session.flush()
    revenue = revenue or GLAccount(
        code=_next_code(session, "40"),
        name=f"Revenue - {name}",
        type=GLType.REVENUE,
        category=GLCategory.REVENUE,
    )
    session.add(revenue)
    session.flush()
    kind = ServiceKind(
        code=code,
        name=name,
        metered=metered,
        receivable_gl_id=receivable.id,
        revenue_gl_id=revenue.id,
    )
    session.add(kind)
    session.flush()
    record(
        session,
        actor,
        "service_kind.create",
        object_type="ServiceKind",
        object_id=code,
        after={"name": name, "receivable": receivable.code, "revenue": revenue.code},
    )
    return kind


def add_jurisdiction(
    session: Session, actor: Actor, *, code: str, name: str, kind: str
) -> TaxingJurisdiction:
    """Add a taxing body with the liability account for the tax collected on its behalf."""
    code = code.strip().lower()
    if session.get(TaxingJurisdiction, code) is not None:
        raise ChartError(f"jurisdiction {code} already exists")
    if kind not in {"city", "county", "school", "special", "state"}:
        raise ChartError(
            f"jurisdiction kind must be city, county, school, special or state, not {kind!r}"
        )
    liability = GLAccount(
        code=_next_code(session, "21"),
        name=f"Tax collected for {name}",
        type=GLType.LIABILITY,
        category=GLCategory.TAX_COLLECTED,
    )
    session.add(liability)
    session.flush()
    jurisdiction = TaxingJurisdiction(code=code, name=name, kind=kind, liability_gl_id=liability.id)
    session.add(jurisdiction)
    session.flush()
    record(
        session,
        actor,
        "jurisdiction.create",
        object_type="TaxingJurisdiction",
        object_id=code,
        after={"name": name, "kind": kind, "liability": liability.code},
    )
    return jurisdiction
