"""The demo town loads through the real services, billed as clerks would bill it."""

from datetime import date

import sqlalchemy as sa

from accounts.models import Account, MeterReading, Parcel, ServicePoint
from billing.invoices import invoices_not_matching_lines
from billing.models import BillingRun, Deposit, DepositStatus, Invoice, InvoiceCharge
from core.extensions import db
from core.models import StaffUser
from demo.old_system import DELINQUENT, former_number
from ledger.balances import gl_balance, trial_balance
from ledger.chart import CONVERSION_CLEARING, DEPOSITS_HELD
from ledger.models import TaxingJurisdiction
from ledger.verify import verify_chain
from payments.models import Channel, Payment, Tender

AS_OF = date(2026, 11, 26)


def test_the_demo_town_is_converted_from_its_old_system_then_billed(app, runner):
    result = runner.invoke(args=["demo", "load", "--as-of", AS_OF.isoformat()])
    assert result.exit_code == 0, result.output
    assert "clerk@example.org" in result.output
    with app.app_context():
        session = db.session

        def count(what) -> int:
            query = sa.select(sa.func.count())
            if isinstance(what, sa.ColumnElement):
                return session.scalar(query.where(what))
            return session.scalar(query.select_from(what))

        assert count(Account) == 53 and count(Parcel) == 50
        assert {u.role.value for u in session.scalars(sa.select(StaffUser))} == {
            "admin",
            "supervisor",
            "clerk",
            "auditor",
        }
        assert count(TaxingJurisdiction) == 5
        emails = session.scalars(sa.select(Account.email).where(Account.email.is_not(None))).all()
        assert emails and all(e.endswith("@example.org") for e in emails)
        meter = session.scalar(sa.select(ServicePoint).where(ServicePoint.meter_id == "W-000000"))
        reads = session.scalars(
            sa.select(MeterReading.read_on)
            .where(MeterReading.service_point_id == meter.id)
            .order_by(MeterReading.read_on)
        ).all()
        # 24 months of history converted up to June 30, then July to October read here.
        assert len(reads) == 29
        assert (reads[0], reads[-1]) == (date(2024, 6, 30), date(2026, 10, 31))
        converted = session.scalars(sa.select(Account).where(Account.former_number.like("MF-%")))
        assert {a.converted_on for a in converted} == {date(2026, 6, 30)}
        # 50 households and their landlord came over; two households started here since.
        assert count(Account.former_number.like("MF-%")) == 51
        assert count(Account.former_number.is_(None)) == 2
        assert session.scalar(sa.select(sa.func.count()).where(Account.language == "es")) > 0
        # The old system's unpaid bills (8 late payers' last bill; 3 delinquent households'
        # last three and their penalties), then last year's tax and four utility months here.
        assert count(Invoice.converted.is_(True)) == 20
        runs = {r.cycle: r for r in session.scalars(sa.select(BillingRun))}
        assert set(runs) == {"2025", "2026-07", "2026-08", "2026-09", "2026-10"}
        assert all(r.invoices_posted > 40 for r in runs.values())
        # Five businesses and four renters left deposits; two renters' went to their final
        # bills: the register of what is still held ties to the ledger.
        held = session.scalar(
            sa.select(sa.func.sum(Deposit.held_cents)).where(Deposit.status == DepositStatus.HELD)
        )
        assert count(Deposit.status == DepositStatus.HELD) == 7
        assert held == gl_balance(session, DEPOSITS_HELD) > 0
        # Paid here since: by card online and at the counter in cash and by check; the
        # delinquent households' converted bills stay open and are charged penalties.
        paid = set(session.execute(sa.select(Payment.channel, Payment.tender)).all())
        assert paid == {
            (Channel.ONLINE, Tender.CARD),
            (Channel.COUNTER, Tender.CASH),
            (Channel.COUNTER, Tender.CHECK),
        }
        delinquent = [former_number(i) for i in DELINQUENT]
        still_owed = session.scalars(
            sa.select(Invoice.status)
            .join(Account, Account.id == Invoice.account_id)
            .where(Invoice.converted.is_(True), Account.former_number.in_(delinquent))
        ).all()
        assert len(still_owed) == 12 and set(still_owed) == {"open"}
        assert count(InvoiceCharge.id.is_not(None)) > 0
        october = runs["2026-10"].report
        assert {"missing_reading", "spike"} <= set(october["exception_counts"])
        assert {e["meter"] for e in october["exceptions"]} >= {"W-000013", "W-000021"}
        assert verify_chain(session).ok
        report = trial_balance(session)
        assert report.total_debit_cents == report.total_credit_cents > 0
        assert invoices_not_matching_lines(session) == []
        owed = session.scalar(
            sa.select(sa.func.sum(Invoice.total_cents)).where(Invoice.converted.is_(True))
        )
        # The conversion clearing carries its control total to the cent: what was owed, less
        # two prepaid credits of 40.00, less the deposits (nothing else posts to it).
        assert gl_balance(session, CONVERSION_CLEARING) == owed - 2 * 4000 - 165000
    again = runner.invoke(args=["demo", "load", "--if-empty"])
    assert again.exit_code == 0 and "was not loaded" in again.output
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Account)) == 53


def test_a_demo_staff_login_works(app, demo_town, client):
    demo_town(AS_OF)
    from demo.town import DEMO_PASSWORD
    from tests.conftest import sign_in

    assert sign_in(client, "clerk@example.org", DEMO_PASSWORD).status_code == 302


def test_the_demo_prints_households_a_newcomer_can_look_up(app, runner, client):
    import re

    from tests.portal.conftest import quick_pay

    result = runner.invoke(args=["demo", "load", "--as-of", AS_OF.isoformat()])
    samples = re.findall(r"^  (\d{8})  ([0-9A-Z]{5}-[0-9A-Z]{5})  ", result.output, re.M)
    assert len(samples) == 3
    number, code = samples[0]
    assert quick_pay(client, number, code).status_code == 303
    assert number in client.get("/my/bill").text
