"""The county seed's payments: settled as the app allocates them, refunds and disputes (not a
benchmark itself; bench/_county_history.py's History uses it)."""

from __future__ import annotations

import json
from datetime import date

from _county_ledger import moment

from ledger import chart

CARD_BRANDS = ("visa", "mastercard", "amex", "discover")


class Payments:
    """What a History does with money coming in (and going back)."""

    def due_by(self, account, day: date) -> int:
        """What the account owes on parts due by the day."""
        return sum(item[6] for o in account.open for item in o.items() if item[0] <= day)

    def pay(self, account, cents: int, day: date, extra: int = 0) -> tuple[int, int]:
        """Settle a payment as the app allocates it; returns the payment id and the credit
        it left (what no bill of the account, due or not yet due, took)."""
        channel, kind, cash_gl = account.tender
        payment_id = self.next_id("payment")
        amount = cents + extra
        owed_before = account.owed()
        credits, paid, left = self._settle(account, payment_id, amount, day)
        postings = [(cash_gl, amount, 0, None), *credits]
        if left:
            postings.append((chart.UNAPPLIED_CREDITS, 0, left, account.id))
        self._payment_row(account, payment_id, channel, kind, amount, day)
        number = f"R-{day.year}-{self.next_number('receipt', day.year):06d}"
        self.sink.add(
            "receipt",
            (
                self.next_id("receipt"),
                number,
                payment_id,
                account.id,
                amount,
                kind,
                json.dumps(paid),
                left,
                owed_before - (amount - left),
                moment(day, 60),
                day,
                moment(day, 30),
            ),
        )
        self.chain.post(
            postings,
            day,
            "payment",
            str(payment_id),
            f"Payment {payment_id} ({kind}) for account {self.chain.numbers[account.id]}",
        )
        self.close_paid(account)
        return payment_id, left

    def _settle(self, account, payment_id: int, cents: int, day: date):
        """Allocate the cents oldest due first, charges before principal, and write the
        settlements; returns the receivable credits, the receipt's parts and the credit left."""
        by_id = {o.id: o for o in account.open}
        left, credits, paid = cents, [], []
        for _due, invoice_id, number, principal, _assessed, charge_id, balance in sorted(
            item for o in account.open for item in o.items()
        ):
            if not left:
                break
            take = min(left, balance)
            left -= take
            invoice = by_id[invoice_id]
            if principal:
                pieces = self._fill(invoice, number, take)
            else:
                for charge in invoice.charges:
                    if charge[0] == charge_id:
                        charge[3] -= take
                pieces = {self.gl[chart.PENALTY_RECEIVABLE]: take}
            for gl_id, piece in pieces.items():
                self.sink.add(
                    "settlement",
                    (
                        self.next_id("settlement"),
                        invoice_id,
                        number,
                        charge_id or None,
                        gl_id,
                        "payment",
                        str(payment_id),
                        piece,
                        day,
                        moment(day, 60),
                    ),
                )
                credits.append((self.chain.codes[gl_id], 0, piece, account.id))
            category = "principal" if principal else "penalty"
            paid.append(
                {
                    "invoice": invoice.number,
                    "installment": number,
                    "category": category,
                    "cents": take,
                }
            )
        return credits, paid, left

    def _fill(self, invoice, number: int, cents: int) -> dict[int, int]:
        """Lower an invoice's principal (and installment) as billing.receivables.fill splits it."""
        taken: dict[int, int] = {}
        remaining = cents
        for gl_id, owed in invoice.owed.items():
            take = min(remaining, max(owed, 0))
            if take:
                taken[gl_id] = take
                invoice.owed[gl_id] = owed - take
                remaining -= take
        invoice.balance -= cents
        for installment in invoice.installments or ():
            if installment[0] == number:
                installment[3] -= cents
        return taken

    def _payment_row(self, account, payment_id, channel, kind, cents, day) -> None:
        """The payment row (and the drawer's takings for a counter payment)."""
        drawer = None
        if channel == "counter":
            key = (day.year, day.month)
            self.drawers[key] = self.drawers.get(key, 0) + cents
            drawer = list(self.drawers).index(key) + 1
        card = kind == "card"
        at = moment(day, 30)
        self.sink.add(
            "payment",
            (
                payment_id,
                account.id,
                channel,
                kind,
                "succeeded",
                cents,
                "usd",
                "[]",
                f"pi_seed_{payment_id:09d}" if channel == "online" else None,
                drawer,
                f"{1000 + payment_id % 9000}" if kind == "check" else None,
                at,
                self.rng.choice(CARD_BRANDS) if card else None,
                f"{payment_id % 10_000:04d}" if card else None,
                "stripe webhook" if channel == "online" else "clerk@county.example",
                at,
                at,
            ),
        )

    def refund(self, account, payment_id: int, cents: int, day: date) -> None:
        """Give back the credit an overpayment left, by card through Stripe."""
        refund_id = self.next_id("refund")
        reason = "Overpayment returned to the cardholder"
        self.sink.add(
            "refund",
            (
                refund_id,
                payment_id,
                cents,
                reason,
                "Overpayment returned",
                "succeeded",
                f"re_seed_{refund_id:09d}",
                "supervisor@county.example",
                day,
                moment(day, 90),
            ),
        )
        self.chain.post(
            [
                (chart.UNAPPLIED_CREDITS, cents, 0, account.id),
                (chart.STRIPE_CLEARING, 0, cents, None),
            ],
            day,
            "refund",
            str(refund_id),
            f"Refund {refund_id} of payment {payment_id}: {reason}",
        )

    def dispute(self, payment_id: int, cents: int, day: date) -> None:
        """A cardholder disputes a payment: the funds are held (the dispute stays open)."""
        dispute_id = self.next_id("dispute")
        stripe_id = f"dp_seed_{dispute_id:09d}"
        reason = self.rng.choice(("fraudulent", "duplicate", "product_not_received"))
        self.sink.add(
            "dispute", (dispute_id, stripe_id, payment_id, cents, reason, "open", moment(day, 120))
        )
        self.chain.post(
            [(chart.DISPUTED_FUNDS, cents, 0, None), (chart.STRIPE_CLEARING, 0, cents, None)],
            day,
            "dispute",
            stripe_id,
            f"Dispute {stripe_id} on payment {payment_id} ({reason})",
        )
