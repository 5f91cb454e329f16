"""What a levy document names outside itself, checked against the books when it is loaded.

The format (billing.levy_format) can only check a document against itself; the GL accounts
its charges, credits and discounts post to, and the parcels its special assessments list,
must exist in the town's books. Each refusal names the place in the document.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from accounts.models import Parcel
from billing.computed import RuleError
from billing.levy_spec import TaxYearSpec, levy_accounts
from ledger.models import GLAccount, GLCategory, GLType

#: What each account a levy names must be: (its types, in words).
_KINDS = {
    "revenue": ((GLType.REVENUE, GLType.LIABILITY), "a revenue or liability account"),
    "receivable": ((GLType.ASSET,), "an asset (receivable) account"),
    "discount": ((GLType.REVENUE, GLType.EXPENSE), "a revenue (contra) or expense account"),
}


def check_levy_against_books(session: Session, spec: TaxYearSpec) -> None:
    """Refuse a levy naming a GL account or a parcel the books do not have."""
    if spec.discounts and spec.discount_account is None:
        raise RuleError(
            "discount_account: is missing; name the GL account early-payment discounts post to"
        )
    _check_accounts(session, spec)
    _check_parcels(session, spec)


def _check_accounts(session: Session, spec: TaxYearSpec) -> None:
    """Each account the levy names exists, is active and is of the kind its use needs."""
    named = levy_accounts(spec)
    rows = {
        row.code: row
        for row in session.execute(
            sa.select(GLAccount.code, GLAccount.type, GLAccount.category, GLAccount.active).where(
                GLAccount.code.in_({code for _, code, _ in named})
            )
        )
    }
    for place, code, kind in named:
        row = rows.get(code)
        if row is None:
            raise RuleError(f"{place}: no GL account {code!r} in the chart of accounts")
        if not row.active:
            raise RuleError(f"{place}: GL account {code!r} is inactive")
        types, words = _KINDS[kind]
        if row.type not in types:
            raise RuleError(f"{place}: GL account {code!r} is {row.type.value}, not {words}")
        if kind == "receivable" and row.category != GLCategory.RECEIVABLE:
            raise RuleError(f"{place}: GL account {code!r} is not a receivable account")


def _check_parcels(session: Session, spec: TaxYearSpec) -> None:
    """Each parcel a special assessment lists exists."""
    wanted = {n for a in spec.special_assessments for n in a.parcels}
    if not wanted:
        return
    known = set(
        session.scalars(sa.select(Parcel.parcel_number).where(Parcel.parcel_number.in_(wanted)))
    )
    for index, assessment in enumerate(spec.special_assessments):
        for position, number in enumerate(assessment.parcels):
            if number not in known:
                raise RuleError(
                    f"special_assessments[{index}].parcels[{position}].parcel: no parcel {number!r}"
                )
