"""The county seed's history, month by month: bills, payments, penalties, refunds, disputes.

Every account carries its open invoices (principal by receivable or installment, and the
charges assessed on them); an invoice's row is written once it is paid, or at the end with
what it still owes, so each stored balance is the final one. Payments settle as the app's
allocation does (payments.allocation: oldest due first, charges before principal, the rest
account credit). Each month posts, in this order: utility bills (cycle bill date), property
tax bills (January), payments made by the due date, penalties the day after it, late
payments. Not a benchmark itself.
"""

from __future__ import annotations

import json
import random
from datetime import date, timedelta

from _county_ledger import moment
from _county_payments import Payments

from ledger import chart

#: How accounts pay: on time, late (after a penalty), partly, or not at all from some month.
ON_TIME, LATE, PARTIAL, STOPS = range(4)
HABITS = (ON_TIME,) * 80 + (LATE,) * 12 + (PARTIAL,) * 3 + (STOPS,) * 5
#: What a payment comes in as: (channel, tender, cash GL).
CARD = ("online", "card", chart.STRIPE_CLEARING)
BANK_DEBIT = ("online", "bank_debit", chart.STRIPE_CLEARING)
CASH = ("counter", "cash", chart.CASH_DRAWER)
CHECK = ("counter", "check", chart.CASH_DRAWER)
TENDERS = (CARD,) * 55 + (BANK_DEBIT,) * 30 + (CASH,) * 5 + (CHECK,) * 10
PENALTY_RULE = "late-payment"


def _text(en: str, es: str) -> tuple[str, str]:
    """A text in the default language and all of them as stored (JSON), encoded once."""
    return en, json.dumps({"en": en, "es": es})


PENALTY_TEXT = _text("Late payment penalty", "Recargo por pago atrasado")
WATER_SERVICE = _text("Water service charge", "Cargo por servicio de agua")
WATER_USAGE = _text("Water usage", "Consumo de agua")
SEWER_SERVICE = _text("Sewer service charge", "Cargo por servicio de alcantarillado")
SEWER_USAGE = _text("Sewer usage", "Uso de alcantarillado")
TRASH_CART = _text("Trash collection", "Recolección de basura")
#: (revenue GL, receivable GL) of each service (the migration's chart).
WATER, SEWER, TRASH = ("4010", "1110"), ("4020", "1120"), ("4030", "1130")
WATER_PLAN, SEWER_PLAN = "plan:MF-WATER@2025-01-01:", "plan:MF-SEWER@2025-01-01:"


class Open:
    """An invoice that still owes something, as the seed tracks it."""

    __slots__ = ("row", "id", "number", "total", "balance", "owed", "installments", "charges")

    def __init__(self, row: list, owed: dict[int, int], installments: list | None):
        self.row = row
        self.id, self.number, self.total = row[0], row[1], row[9]
        self.balance = self.total
        #: Principal still owed by receivable GL id, in line order (book.outstanding).
        self.owed = owed
        #: [number, due, amount, balance] of a tax invoice's installments; None otherwise.
        self.installments = installments
        #: [charge id, installment, amount, balance, assessed_on, due] per charge.
        self.charges: list[list] = []

    def items(self) -> list[tuple]:
        """What it owes as allocation items: (due, invoice, installment, is_principal,
        assessed_on, charge id, balance)."""
        found = []
        if self.installments:
            for number, due, _amount, balance in self.installments:
                if balance:
                    found.append((due, self.id, number, True, date.min, 0, balance))
        elif self.balance:
            found.append((self.row[7], self.id, 0, True, date.min, 0, self.balance))
        for charge_id, number, _amount, balance, assessed, due in self.charges:
            if balance:
                found.append((due, self.id, number, False, assessed, charge_id, balance))
        return found

    def owes(self) -> int:
        """Principal and charges still owed."""
        return self.balance + sum(c[3] for c in self.charges)


class Account:
    """One account's habits and open invoices."""

    __slots__ = ("id", "habit", "tender", "stops_at", "quarterly", "parcels", "open", "points")

    def __init__(self, account_id: int, rng: random.Random, months: int, quarterly: bool):
        self.id = account_id
        self.habit = rng.choice(HABITS)
        self.tender = rng.choice(TENDERS)
        self.stops_at = months - rng.randint(2, 8) if self.habit == STOPS else months
        self.quarterly = quarterly
        self.parcels: list[tuple[int, int]] = []  # (parcel id, assessed value in cents)
        self.open: list[Open] = []
        self.points: tuple[int, int, int] = (0, 0, 0)

    def owed(self) -> int:
        """What the account owes (its receivables)."""
        return sum(o.owes() for o in self.open)


class History(Payments):
    """Writes the county's 24 months into a Sink and a Chain."""

    def __init__(self, sink, chain, rng: random.Random, setup: dict):
        self.sink, self.chain, self.rng = sink, chain, rng
        self.gl = setup["gl_ids"]
        self.jurisdictions = setup["jurisdictions"]  # (code, name, gl code, mills)
        self.ids: dict[str, int] = {}
        self.numbers: dict[tuple[str, int], int] = {}
        self.drawers: dict[tuple[int, int], int] = {}  # (year, month) -> cents taken
        self.accounts: list[Account] = []
        chain.codes = {gl_id: code for code, gl_id in self.gl.items()}
        self.texts = {code: _text(name, name) for code, name, _gl, _mills in self.jurisdictions}

    def next_id(self, table: str) -> int:
        """The next primary key of a table."""
        self.ids[table] = self.ids.get(table, 0) + 1
        return self.ids[table]

    def next_number(self, series: str, year: int) -> int:
        """The next number of a document series in a year."""
        key = (series, year)
        self.numbers[key] = self.numbers.get(key, 0) + 1
        return self.numbers[key]

    # -- bills ---------------------------------------------------------------------------

    def _invoice(
        self,
        account: Account,
        kind: str,
        period,
        issue: date,
        due: date,
        lines,
        parcel_id=None,
        installments=None,
    ) -> Open:
        """Write an invoice's lines and post it; returns it open (its row comes later)."""
        invoice_id = self.next_id("invoice")
        number = f"{issue.year}-{self.next_number('invoice', issue.year):06d}"
        total = sum(line[3] for line in lines)
        owed: dict[int, int] = {}
        net: dict[tuple[str, int | None], int] = {}
        for position, (
            text,
            quantity,
            rate,
            cents,
            gl_code,
            receivable,
            point,
            source,
        ) in enumerate(lines, start=1):
            self.sink.add(
                "invoice_line",
                (
                    self.next_id("invoice_line"),
                    invoice_id,
                    position,
                    text[0],
                    "charge",
                    text[1],
                    quantity,
                    None if quantity is None else "1,000 gallons",
                    None if quantity is None else '{"en": "1,000 gallons", "es": "1,000 galones"}',
                    rate,
                    None if rate is None else 2,
                    cents,
                    self.gl[gl_code],
                    self.gl[receivable],
                    point,
                    parcel_id,
                    source,
                ),
            )
            owed[self.gl[receivable]] = owed.get(self.gl[receivable], 0) + cents
            net[(receivable, account.id)] = net.get((receivable, account.id), 0) + cents
            net[(gl_code, None)] = net.get((gl_code, None), 0) - cents
        # NOTE: as billing.invoices.invoice_postings: netted per GL, debits first, by code.
        postings = [
            (code, max(cents, 0), max(-cents, 0), acct)
            for (code, acct), cents in sorted(net.items(), key=lambda i: (i[1] <= 0, i[0][0]))
            if cents
        ]
        self.chain.post(
            postings,
            issue,
            "invoice",
            number,
            f"Invoice {number} for account {self.chain.numbers[account.id]}",
        )
        row = [
            invoice_id,
            number,
            account.id,
            kind,
            period[0],
            period[1],
            issue,
            due,
            "open",
            total,
            total,
            None,
            parcel_id,
            moment(issue),
        ]
        invoice = Open(row, owed, installments)
        account.open.append(invoice)
        return invoice

    def utility_bill(self, account: Account, period, issue: date, due: date) -> None:
        """A water, sewer and trash bill for one cycle period (the demo tariffs' charges)."""
        months = 3 if account.quarterly else 1
        usage = self.rng.randint(2, 9) * months
        first = min(usage, 3 * months)
        water, sewer, trash = account.points
        lines = [
            (WATER_SERVICE, None, None, 1140 * months, *WATER, water, WATER_PLAN + "service"),
            (WATER_USAGE, first, "4.23", 423 * first, *WATER, water, WATER_PLAN + "usage"),
        ]
        if usage > first:
            more = usage - first
            lines.append(
                (WATER_USAGE, more, "5.12", 512 * more, *WATER, water, WATER_PLAN + "usage")
            )
        lines += [
            (SEWER_SERVICE, None, None, 1450 * months, *SEWER, sewer, SEWER_PLAN + "fixed"),
            (SEWER_USAGE, usage, "6.72", 672 * usage, *SEWER, sewer, SEWER_PLAN + "usage"),
            (TRASH_CART, None, None, 1875 * months, *TRASH, trash, "plan:MF-TRASH@2025-01-01:cart"),
        ]
        self._invoice(account, "utility", period, issue, due, lines)

    def tax_bill(self, account: Account, parcel_id: int, assessed: int, year: int) -> None:
        """A property tax bill in two installments (due February 22 and July 22)."""
        issue = date(year, 1, 2)
        dues = (date(year, 2, 22), date(year, 7, 22))
        lines = []
        for code, _name, gl_code, mills in self.jurisdictions:
            cents = assessed * mills // 1_000_000  # mills in thousandths of a mill
            lines.append(
                (
                    self.texts[code],
                    None,
                    None,
                    cents,
                    gl_code,
                    chart.TAX_RECEIVABLE,
                    None,
                    f"levy:{year}:{code}",
                )
            )
        total = sum(line[3] for line in lines)
        second = total // 2
        installments = [[1, dues[0], total - second, total - second], [2, dues[1], second, second]]
        self.sink.add(
            "parcel_valuation",
            (self.next_id("parcel_valuation"), parcel_id, year, assessed * 10 // 9, assessed),
        )
        self._invoice(
            account,
            "tax",
            (date(year, 1, 1), date(year, 12, 31)),
            issue,
            dues[0],
            lines,
            parcel_id=parcel_id,
            installments=installments,
        )

    # -- penalties -----------------------------------------------------------------------

    def penalize(self, account: Account, due: date) -> None:
        """Assess the late-payment penalty on each part left unpaid at a due date."""
        day = due + timedelta(days=1)
        for invoice in account.open:
            parts = (
                [(n, d, b) for n, d, _a, b in invoice.installments]
                if invoice.installments
                else [(0, invoice.row[7], invoice.balance)]
            )
            new = []
            for number, part_due, balance in parts:
                if part_due == due and balance > 0:
                    cents = max(100, balance * 15 // 1000)
                    charge_id = self.next_id("invoice_charge")
                    invoice.charges.append([charge_id, number, cents, cents, day, part_due])
                    new.append(cents)
            if new:
                total = sum(new)
                self.chain.post(
                    [
                        (chart.PENALTY_RECEIVABLE, total, 0, account.id),
                        (chart.PENALTY_REVENUE, 0, total, None),
                    ],
                    day,
                    "penalty",
                    invoice.number,
                    f"Penalties and interest on invoice {invoice.number}",
                )

    # -- invoice rows --------------------------------------------------------------------

    def close_paid(self, account: Account) -> None:
        """Write the rows of invoices that owe nothing any more."""
        still = []
        for invoice in account.open:
            if invoice.owes():
                still.append(invoice)
            else:
                self.write_invoice(invoice)
        account.open = still

    def write_invoice(self, invoice: Open) -> None:
        """The invoice row with its final balance and status, its installments and charges."""
        row = invoice.row
        row[10] = invoice.balance
        charges_owed = sum(c[3] for c in invoice.charges)
        if invoice.balance == 0 and charges_owed == 0:
            row[8] = "paid"
        elif invoice.balance < invoice.total:
            row[8] = "partially_paid"
        self.sink.add("invoice", tuple(row))
        for number, due, amount, balance in invoice.installments or ():
            self.sink.add(
                "invoice_installment",
                (self.next_id("invoice_installment"), invoice.id, number, due, amount, balance),
            )
        for charge_id, number, amount, balance, assessed, _due in invoice.charges:
            self.sink.add(
                "invoice_charge",
                (
                    charge_id,
                    invoice.id,
                    number,
                    PENALTY_RULE,
                    "once",
                    "penalty",
                    PENALTY_TEXT[0],
                    PENALTY_TEXT[1],
                    amount,
                    balance,
                    assessed,
                    assessed,
                    moment(assessed),
                ),
            )
