"""Tenants' protections before a shutoff (modelled on California's SB 998, Pub. Util. Code
10009-10010 and 777.1; docs/shutoff.md, "Tenants"): where the account is a landlord's, the
location is billed to its owner, or the location is multi-unit (master-metered), the occupants
get a notice in English and Spanish together (their language is unknown) a rule number of
calendar days before any shutoff there, telling them they may become customers without paying
the landlord's past-due amount. No shutoff happens until that lead time has passed. A clerk
records "tenant becomes customer": service starts in the tenant's name through the service-order
path (billing.service_orders), the landlord's account stays delinquent but is no longer
responsible for the location, and its shutoff there ends. Services flush, never commit.
"""

from __future__ import annotations

import hashlib
import io
import textwrap
from collections.abc import Mapping
from datetime import date, timedelta

import sqlalchemy as sa
from reportlab.pdfgen.canvas import Canvas
from sqlalchemy.orm import Session

from accounts.locations import BillTo, OrderKind, OrderStatus, ServiceLocation
from accounts.models import Account, ServicePoint
from accounts.responsibility import open_locations
from billing.medical_certificates import ShutoffError
from billing.models import ShutoffRule
from billing.service_orders import OrderError, OrderSettings, confirm, new_order
from billing.shutoff_rules import shutoff_rule_on
from core.audit import Actor, record
from notices.issuing import Rendered, store_pdf
from notices.mail_message import format_date
from notices.models import ShutoffNotice, TenantNotice
from notices.pdf_sheet import MARGIN, PAGE_HEIGHT, RIGHT
from notices.plan_letters import _header, _lines

TEXTS = {
    "en": (
        "To the tenants and occupants of {address}:",
        "The town's water and utility service at this address may be shut off on or after "
        "{day}, because the bills of the account that pays for it are past due.",
        "You have the right to become the town's customer in your own name and keep the service "
        "on, without paying the amount owed on that account. Call or visit the town office "
        "before {day}: {office}.",
    ),
    "es": (
        "A los inquilinos y ocupantes de {address}:",
        "El servicio de agua y servicios públicos del municipio en esta dirección puede cortarse "
        "a partir del {day}, porque las facturas de la cuenta que lo paga están vencidas.",
        "Usted tiene derecho a ser cliente del municipio a su propio nombre y mantener el "
        "servicio, sin pagar lo que se debe en esa cuenta. Llame o visite la oficina municipal "
        "antes del {day}: {office}.",
    ),
}
TITLE = "Notice to tenants / Aviso a los inquilinos"


def _multi_unit(session: Session, location_id: int) -> bool:
    """Whether the location's meter serves more than one dwelling (master-metered)."""
    units = session.scalar(
        sa.select(sa.func.max(ServicePoint.dwelling_units)).where(
            ServicePoint.location_id == location_id
        )
    )
    return (units or 1) > 1


def tenant_locations(session: Session, account: Account) -> list[tuple[ServiceLocation, bool]]:
    """The locations the account answers for whose occupants are protected, with whether each
    is multi-unit: the account is the landlord of someone else living there, the bills go to
    the owner, or the meter serves several dwellings."""
    found = []
    for location_id in sorted(open_locations(session, account.id)):
        location = session.get(ServiceLocation, location_id)
        multi = _multi_unit(session, location_id)
        landlord = (
            location.owner_account_id == account.id
            and bool(location.occupant_name)
            and location.occupant_name != account.holder_name
        )
        if multi or landlord or location.bill_to != BillTo.OCCUPANT:
            found.append((location, multi))
    return found


def lead_days(rule: ShutoffRule, multi_unit: bool) -> int:
    """The rule's calendar days from the tenants' notice to the earliest shutoff."""
    return rule.tenant_notice_days_multi_unit if multi_unit else rule.tenant_notice_days_detached


def tenant_words(config: Mapping, location: ServiceLocation, day: date) -> list[str]:
    """The notice's sentences: English, then Spanish."""
    lines: list[str] = []
    for language in ("en", "es"):
        for sentence in TEXTS[language]:
            text = sentence.format(
                address=location.address(),
                day=format_date(day, language),
                office=config["MUNICIPALITY_ADDRESS"],
            )
            lines.extend(textwrap.wrap(text, 90))
        lines.append("")
    return lines


def tenant_notice_pdf(config: Mapping, location: ServiceLocation, day: date) -> bytes:
    """The bilingual notice to the occupants as a one-page PDF."""
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=(RIGHT + MARGIN, PAGE_HEIGHT))
    canvas.setTitle(TITLE)
    y = _header(canvas, config, TITLE)
    _lines(canvas, y, tenant_words(config, location, day))
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def issue_tenant_notices(
    session: Session, config: Mapping, actor: Actor, row: ShutoffNotice, on: date
) -> list[TenantNotice]:
    """With a shutoff notice: the bilingual notice to the occupants of each protected location
    not told yet for it, stored by its hash; audited. Run again, it tells only those missed
    (a location that became protected after the notice)."""
    account = session.get(Account, row.account_id)
    rule = shutoff_rule_on(session, on)
    told = set(
        session.scalars(
            sa.select(TenantNotice.location_id).where(TenantNotice.shutoff_notice_id == row.id)
        )
    )
    issued = []
    for location, multi in tenant_locations(session, account) if rule else []:
        if location.id in told:
            continue
        lead = lead_days(rule, multi)
        not_before = on + timedelta(days=lead)
        pdf = tenant_notice_pdf(config, location, not_before)
        digest = hashlib.sha256(pdf).hexdigest()
        path = store_pdf(config, Rendered(None, pdf, digest, 1))
        notice = TenantNotice(
            shutoff_notice_id=row.id,
            account_id=account.id,
            location_id=location.id,
            issued_on=on,
            multi_unit=multi,
            lead_days=lead,
            shutoff_not_before=not_before,
            sha256=digest,
            path=path,
        )
        session.add(notice)
        session.flush()
        record(
            session,
            actor,
            "tenant_notice.issue",
            notice,
            account=account.number,
            location=location.address(),
            shutoff_not_before=not_before.isoformat(),
        )
        issued.append(notice)
    return issued


def tenant_hold(
    session: Session, account: Account, delinquency_invoice_id: int | None, on: date
) -> tuple[list[str], date | None]:
    """Why no shutoff may happen yet for the tenants' sake (a notice may): a protected location
    whose occupants were not told for this delinquency, or told less than the lead time ago;
    and the earliest day the tenants' notices allow."""
    if delinquency_invoice_id is None:
        return [], None
    notice = session.scalar(
        sa.select(ShutoffNotice).where(
            ShutoffNotice.account_id == account.id,
            ShutoffNotice.invoice_id == delinquency_invoice_id,
        )
    )
    if notice is None:
        return [], None  # the tenants' notices go with the shutoff notice
    told = {
        t.location_id: t
        for t in session.scalars(
            sa.select(TenantNotice).where(TenantNotice.shutoff_notice_id == notice.id)
        )
    }
    held, latest = [], None
    for location, _multi in tenant_locations(session, account):
        sent = told.get(location.id)
        if sent is None:
            held.append(f"the tenants at {location.address()} have not been sent their notice")
            continue
        latest = max(latest or sent.shutoff_not_before, sent.shutoff_not_before)
        if on < sent.shutoff_not_before:
            held.append(
                f"the tenants at {location.address()} were told on {sent.issued_on}; "
                f"no shutoff there before {sent.shutoff_not_before}"
            )
    became = [t for t in told.values() if t.tenant_account_id is not None]
    if became and not open_locations(session, account.id):
        held.append("the tenants became customers: the account answers for no service location now")
    return held, latest


def tenant_becomes_customer(
    session: Session,
    actor: Actor,
    notice: TenantNotice,
    *,
    holder_name: str,
    email: str | None,
    on: date,
    settings: OrderSettings,
) -> TenantNotice:
    """Start service in the tenant's name at the location from `on` (a new account, without
    the landlord's arrears); the landlord's account stays delinquent but no longer answers for
    the location. ShutoffError with the reason when refused."""
    if notice.tenant_account_id is not None:
        raise ShutoffError(
            f"the tenants at location {notice.location_id} became customers on "
            f"{notice.became_customer_on}"
        )
    name = (holder_name or "").strip()
    if not name or len(name) > 200:
        raise ShutoffError("holder_name: the tenant's name is required (at most 200 characters)")
    try:
        order = new_order(
            session,
            actor,
            status=OrderStatus.CONFIRMED,
            kind=OrderKind.START,
            location_id=notice.location_id,
            holder_name=name,
            email=(email or "").strip() or None,
            effective_on=on,
        )
        confirm(session, actor, order, settings, on)
    except OrderError as error:
        raise ShutoffError(str(error)) from None
    notice.tenant_account_id, notice.service_order_id = order.new_account_id, order.id
    notice.became_customer_on = on
    session.flush()
    record(
        session,
        actor,
        "tenant_notice.became_customer",
        notice,
        tenant_account_id=order.new_account_id,
        service_order_id=order.id,
    )
    return notice
