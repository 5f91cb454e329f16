"""A location billed "owner copied": the occupant's bill goes to the occupant, and a copy of the
same bill to the owner, in the owner's envelope, saying whose bill it is. The resident's own
bill download is never the owner's copy; the other rules send one envelope."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pypdf
import pytest
import sqlalchemy as sa
from flask import current_app

from accounts.locations import BillTo
from accounts.models import Account
from accounts.responsibility import set_bill_to
from billing.models import Invoice
from billing.position import account_position
from core.money import format_cents
from notices.models import Delivery, Notice
from notices.print_batches import print_batch
from notices.scanline import parse
from portal.documents import bill_notice
from tests.billing.order_fixtures import CLERK, rented_house, vacant_house
from tests.notices.test_mail import sleeps, smtp_mailer, smtp_server  # noqa: F401 - fixtures

CYCLE = "2026-10"
ISSUED = date(2026, 11, 2)


@dataclass(frozen=True)
class Parties:
    """What the test needs to know of the house once the batch has let its objects go."""

    tenant_id: int
    tenant: str
    tenant_name: str
    tenant_street: str
    landlord_id: int
    landlord: str
    bill_id: int
    bill: str


def _house(session, rule: BillTo) -> Parties:
    house = rented_house(session)
    landlord = house.landlord
    landlord.mail_street, landlord.mail_street2 = "500 Commerce Pkwy", "Suite 12"
    landlord.mail_city, landlord.mail_state, landlord.mail_zip = "Green Bay", "WI", "54303"
    set_bill_to(session, CLERK, house.location, rule)
    session.commit()
    tenant = house.tenant
    bill = session.scalar(sa.select(Invoice).where(Invoice.account_id == tenant.id))
    return Parties(
        tenant.id,
        tenant.number,
        tenant.holder_name,
        tenant.mail_street,
        landlord.id,
        landlord.number,
        bill.id,
        bill.number,
    )


def _batch(session, smtp_server, sleeps):  # noqa: F811 - fixtures
    batch = print_batch(
        session,
        current_app.config,
        CLERK,
        cycle=CYCLE,
        on=ISSUED,
        mailer=smtp_mailer(smtp_server.port, sleeps),
    )
    folder = Path(current_app.config["NOTICES_DIR"])
    manifest = list(csv.DictReader(io.StringIO((folder / batch.manifest_path).read_text())))
    merged = pypdf.PdfReader(folder / batch.pdf_path)
    return batch, manifest, merged


def _pages_of(merged, row) -> str:
    first = int(row["first_page"]) - 1
    return " ".join(
        " ".join(page.extract_text().split())
        for page in merged.pages[first : first + int(row["pages"])]
    )


def test_the_occupant_gets_the_bill_and_the_owner_a_copy_of_it(
    session,
    smtp_server,  # noqa: F811
    sleeps,  # noqa: F811
):
    house = _house(session, BillTo.OWNER_COPIED)
    owed = account_position(session, house.tenant_id, ISSUED).owed_cents()

    batch, manifest, merged = _batch(session, smtp_server, sleeps)

    assert batch.printed == 2
    by_account = {row["account"]: row for row in manifest}
    assert set(by_account) == {house.tenant, house.landlord}
    original = session.get(Notice, int(by_account[house.tenant]["notice"]))
    copy = session.get(Notice, int(by_account[house.landlord]["notice"]))
    assert (original.copy_of_id, copy.copy_of_id) == (None, original.id)
    assert original.invoice_id == copy.invoice_id == house.bill_id
    assert original.account_id == house.tenant_id and copy.account_id == house.landlord_id
    assert by_account[house.landlord]["zip"] == "54303"

    tenant_pages = _pages_of(merged, by_account[house.tenant])
    owner_pages = _pages_of(merged, by_account[house.landlord])
    # each envelope window holds its own addressee
    assert house.tenant_name in tenant_pages and "Commerce Pkwy" not in tenant_pages
    assert "Lakeside Rentals LLC" in owner_pages and "500 Commerce Pkwy Suite 12" in owner_pages
    assert "Green Bay WI 54303" in owner_pages
    # the copy says whose bill it is; the occupant's bill does not
    assert (
        "Owner's copy. The occupant at 1 Oak St, Maple Falls receives this bill and is "
        "responsible for paying it"
    ) in owner_pages
    assert "Owner's copy" not in tenant_pages
    # the same bill: its number, the occupant's account and every figure agree with the books
    for pages in (tenant_pages, owner_pages):
        assert house.bill in pages and house.tenant in pages
        assert format_cents(owed) in pages
    # the occupant's quick-pay access code stays off the owner's copy
    assert "Access code" in tenant_pages and "Access code" not in owner_pages
    assert f"TOTAL DUE {format_cents(owed)}" in owner_pages
    # the stub's scan line on the copy pays the occupant's account what is owed, as the
    # occupant's does
    for pages in (tenant_pages, owner_pages):
        found = re.search(r"\b\d{8} \d{10} \d{8} \d\b", pages)
        assert found, "no scan line on the bill"
        scanned = parse(found.group(0))
        assert (scanned.account_number, scanned.amount_cents) == (house.tenant, owed)


def test_the_residents_own_download_is_never_the_owners_copy(
    session,
    smtp_server,  # noqa: F811
    sleeps,  # noqa: F811
):
    house = _house(session, BillTo.OWNER_COPIED)
    _batch(session, smtp_server, sleeps)

    served = bill_notice(session, current_app.config, CLERK, session.get(Invoice, house.bill_id))

    assert served.account_id == house.tenant_id and served.copy_of_id is None
    assert served.delivery == Delivery.PRINT and served.batch_id is not None


def test_a_paperless_owner_gets_the_copy_by_e_mail(
    session,
    smtp_server,  # noqa: F811
    sleeps,  # noqa: F811
):
    house = _house(session, BillTo.OWNER_COPIED)
    landlord = session.get(Account, house.landlord_id)
    landlord.paperless, landlord.email = True, "rentals@example.org"
    session.commit()

    batch, manifest, _merged = _batch(session, smtp_server, sleeps)

    assert (batch.printed, batch.emailed) == (1, 1)
    assert [row["account"] for row in manifest] == [house.tenant]
    (envelope,) = smtp_server.handler.envelopes
    assert envelope.rcpt_tos == ["rentals@example.org"]


@pytest.mark.parametrize("rule", [BillTo.OCCUPANT, BillTo.OWNER])
def test_the_other_rules_send_one_envelope(
    session,
    rule,
    smtp_server,  # noqa: F811
    sleeps,  # noqa: F811
):
    house = _house(session, rule)

    batch, manifest, merged = _batch(session, smtp_server, sleeps)

    assert batch.printed == 1
    (row,) = manifest
    pages = _pages_of(merged, row)
    addressee = "500 Commerce Pkwy" if rule == BillTo.OWNER else house.tenant_street
    assert addressee in pages and "Owner's copy" not in pages
    assert session.scalar(sa.select(sa.func.count()).where(Notice.copy_of_id.is_not(None))) == 0


def test_a_vacant_house_billed_to_its_owner_copied_sends_the_owner_one_envelope(
    session,
    smtp_server,  # noqa: F811
    sleeps,  # noqa: F811
):
    from tests.billing.order_fixtures import run_cycle

    empty = vacant_house(session, "9 Elm St")
    set_bill_to(session, CLERK, empty.location, BillTo.OWNER_COPIED)
    run_cycle(session, CYCLE)
    session.commit()
    owner = empty.landlord.number

    batch, manifest, _merged = _batch(session, smtp_server, sleeps)

    assert batch.printed == 1
    assert [row["account"] for row in manifest] == [owner]
