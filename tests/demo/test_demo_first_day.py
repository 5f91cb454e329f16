"""The demo town's first day looks like a real town's after two years: households moved through
service orders, late payers charged, delinquent households sent final notices, and two years of
use on a converted account's bill and of months on the dashboard."""

import io
import re
import xml.etree.ElementTree as ET
from datetime import date, timedelta
from pathlib import Path

import pypdf
import sqlalchemy as sa

from accounts.locations import BalanceTransfer, OrderKind, ServiceLocation, ServiceOrder
from accounts.models import Account, AccountStatus, MeterReading, ServicePoint
from accounts.responsibility import gaps_and_overlaps, history
from billing.models import Invoice, InvoiceCharge, InvoiceKind
from billing.position import account_position
from core.extensions import db
from demo.moves import FORWARD, LEAVES, LEAVES_TOWN, MOVES, NEWCOMER
from demo.old_system import DELINQUENT, LANDLORD, LATE, former_number
from demo.town import DEMO_PASSWORD, STAFF
from ledger.verify import verify_chain
from notices.bill_recipients import forwarding
from notices.models import Notice, Reminder
from tests.conftest import sign_in

AS_OF = date(2026, 11, 26)
SVG = "{http://www.w3.org/2000/svg}"
README = Path(__file__).resolve().parents[2] / "README.md"


def _account(session, index: int) -> Account:
    return session.scalar(sa.select(Account).where(Account.former_number == former_number(index)))


def _orders(session, kind: OrderKind) -> list[ServiceOrder]:
    return session.scalars(sa.select(ServiceOrder).where(ServiceOrder.kind == kind)).all()


def test_households_moved_in_and_out_through_service_orders(app, demo_town):
    demo_town(AS_OF)
    with app.app_context():
        session = db.session
        landlord = session.scalar(
            sa.select(Account).where(Account.holder_name == LANDLORD["holder_name"])
        )
        # Two tenants left: each got a final bill for their last days, and their account closed.
        stops = {o.account_id: o for o in _orders(session, OrderKind.STOP)}
        gone = {_account(session, LEAVES_TOWN), _account(session, LEAVES)}
        assert set(stops) == {a.id for a in gone}
        for account in gone:
            final = session.get(Invoice, stops[account.id].final_invoice_id)
            assert final.is_final and final.period_end == stops[account.id].effective_on
            assert account.status == AccountStatus.CLOSED
        # The one who left town has the final bill mailed to the forwarding address.
        leaver = stops[_account(session, LEAVES_TOWN).id]
        recipient = forwarding(session, session.get(Invoice, leaver.final_invoice_id))
        assert recipient is not None and FORWARD["forward_city"] in " ".join(recipient.lines)
        # One moved across town into the home the other left: a new account there, and the
        # unpaid final bill moved to it by a clerk, with what it owed.
        (transfer,) = _orders(session, OrderKind.TRANSFER)
        assert transfer.account_id == _account(session, MOVES).id
        moved = session.get(Account, transfer.new_account_id)
        assert moved.status == AccountStatus.ACTIVE and moved.former_number is None
        assert transfer.new_location_id == stops[_account(session, LEAVES).id].location_id
        (balance,) = session.scalars(sa.select(BalanceTransfer)).all()
        assert balance.from_invoice_id == transfer.final_invoice_id
        assert balance.to_account_id == moved.id and balance.amount_cents > 0
        assert session.get(Invoice, balance.to_invoice_id).total_cents == balance.amount_cents
        # A new household started in the home the first tenant left; the landlord paid the
        # vacancy in between, and each home has one account answering for every day.
        (start,) = _orders(session, OrderKind.START)
        assert start.location_id == leaver.location_id
        assert session.get(Account, start.new_account_id).holder_name == NEWCOMER[0]
        vacancy = [r for r in history(session, start.location_id) if r.account_id == landlord.id]
        assert vacancy and vacancy[0].starts_on == leaver.effective_on.replace(day=16)
        for location in session.scalars(sa.select(ServiceLocation)):
            assert gaps_and_overlaps(history(session, location.id)) == []
        # The new household's first bill, from October's run, bills the gallons from the
        # reading at the changeover: each gallon once.
        (first,) = session.scalars(
            sa.select(Invoice).where(Invoice.account_id == start.new_account_id)
        ).all()
        meter = session.scalar(
            sa.select(ServicePoint).where(
                ServicePoint.location_id == start.location_id, ServicePoint.meter_id.is_not(None)
            )
        )
        reads = dict(
            session.execute(
                sa.select(MeterReading.read_on, MeterReading.reading).where(
                    MeterReading.service_point_id == meter.id
                )
            ).all()
        )
        gallons = reads[first.period_end] - reads[start.effective_on - timedelta(days=1)]
        usage = [
            line.quantity
            for line in first.lines
            if line.service_point_id == meter.id and line.description.startswith("Water usage")
        ]
        assert gallons > 0 and sum(usage) * 1000 == gallons
        assert verify_chain(session).ok


def test_late_payers_are_charged_and_the_delinquent_get_final_notices(app, demo_town):
    output = demo_town(AS_OF)
    assert re.search(r"Reminders sent as of 2026-11-26: \d+ notices", output)
    with app.app_context():
        session = db.session
        # Late payers paid after the 20 days' grace: the nightly assessment had charged them
        # the late payment charge first, and they paid it with the bill.
        late = [_account(session, i).id for i in LATE]
        charges = session.scalars(
            sa.select(InvoiceCharge)
            .join(Invoice, Invoice.id == InvoiceCharge.invoice_id)
            .where(Invoice.account_id.in_(late), Invoice.kind == InvoiceKind.UTILITY)
        ).all()
        assert len({c.invoice_id for c in charges}) >= len(LATE)
        assert any(c.amount_cents > 0 and c.balance_cents == 0 for c in charges)
        # The delinquent households owe since the conversion, charged each month, and this
        # morning's reminders sent them a final notice.
        for index in DELINQUENT:
            account = _account(session, index)
            owed = account_position(session, account.id, AS_OF)
            assert owed.owed_cents() > 0
            stages = session.scalars(
                sa.select(Reminder.stage).where(Reminder.account_id == account.id)
            ).all()
            assert "final" in stages
            kinds = session.scalars(
                sa.select(Notice.kind).where(Notice.account_id == account.id)
            ).all()
            assert "final" in {k.value for k in kinds}


def _pdf_text(client, headers, number: str) -> str:
    made = client.post(f"/api/v1/invoices/{number}/notices", json={}, headers=headers)
    assert made.status_code == 201, made.get_json()
    pdf = client.get(f"/api/v1/notices/{made.get_json()['id']}/pdf", headers=headers).data
    return " ".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf)).pages)


def test_a_converted_bill_and_the_dashboard_show_two_years(app, demo_town, client, api_headers):
    demo_town(AS_OF)
    with app.app_context():
        account = db.session.scalar(
            sa.select(Account)
            .where(Account.former_number.like("MF-%"), Account.language == "en")
            .order_by(Account.id)
            .limit(1)
        )
        bill = db.session.scalar(
            sa.select(Invoice)
            .where(Invoice.account_id == account.id, Invoice.kind == InvoiceKind.UTILITY)
            .order_by(Invoice.period_end.desc())
            .limit(1)
        )
        number, period_end = bill.number, bill.period_end
    assert period_end == date(2026, 10, 31)
    text = " ".join(_pdf_text(client, api_headers("clerk"), number).split())
    # 24 months of use ending with October 2026: 20 from the old system's history, 4 read here.
    assert "Usage, last 24 months (gallons)" in text
    # The chart names every third month from the oldest, and this bill's.
    assert "Nov 24 Feb 25 May 25" in text and "Aug 26 Oct 26" in text
    assert sign_in(client, "auditor@example.org", DEMO_PASSWORD).status_code == 302
    page = client.get(f"/staff/dashboard?as_of={AS_OF.isoformat()}").get_data(as_text=True)
    charts = [ET.fromstring(svg) for svg in re.findall(r"<svg.*?</svg>", page, re.S)]
    assert len(charts) == 2
    collections = [e for e in charts[0].iter(f"{SVG}rect") if e.get("class") == "bar"]
    assert len(collections) == 24
    titles = [bar.find(f"{SVG}title").text for bar in collections]
    assert titles[0].startswith("Collected, December 2024")
    assert titles[-1].startswith("Collected, November 2026")
    # What munibill collected on the months it billed shows month by month.
    assert all(not t.endswith(": $0.00") for t in titles[-4:])


def test_the_readme_s_demo_sign_ins_work(app, demo_town):
    output = demo_town(AS_OF)
    readme = README.read_text()
    roles = re.search(r"demo staff sign-ins \(([a-z, ]+);", readme).group(1).split(", ")
    assert roles == [role for _email, role, _name in STAFF]
    for email, role, _name in STAFF:
        assert re.search(rf"^  {role}\s+{re.escape(email)}$", output, re.M)
        assert sign_in(app.test_client(), email, DEMO_PASSWORD).status_code == 302
