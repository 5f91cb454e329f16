"""Every kind of journal entry names its own source document (docs/ledger.md, "Posting").

KINDS is the table: for each kind of posting, the place in the code that posts it,
its source type, and how to make one through its real service. Each case makes
one and checks the entry's source_type and source_id identify that very document
and that its memo names it. The last tests read the source: a new source type, or
a new place that posts, that the table does not list fails the suite.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from core.extensions import db
from ledger.models import JournalEntry
from ledger.verify import verify_chain
from tests.ledger import ach_postings as ach
from tests.ledger import bank_deposit_postings as bank_deposits
from tests.ledger import bank_statement_postings as bank_statements
from tests.ledger import billing_postings as billing
from tests.ledger import checkpoint_postings as checkpoints
from tests.ledger import conversion_postings as conversions
from tests.ledger import deposit_postings as deposits
from tests.ledger import discount_postings as discounts
from tests.ledger import estimate_postings as estimates
from tests.ledger import fee_postings as fees
from tests.ledger import lockbox_postings as lockbox
from tests.ledger import payment_postings as payments
from tests.ledger import service_order_postings as service_orders
from tests.ledger import shutoff_postings as shutoff
from tests.ledger.billing_postings import Posted
from tests.test_architecture import ROOT, sources

#: The functions that post, and which argument holds the source type (keyword, position).
POSTING_CALLS = {"post_entry": ("source_type", None), "EntrySpec": ("source_type", 2)}
REVERSING_CALLS = {"reverse_entry"}
#: The functions that post one source type of their own.
OWN_SOURCE_CALLS = {"post_checkpoint_entry": "ledger_checkpoint"}
CORRECTION = "billing/source_corrections.py:correct_credit_memo_sources"


@dataclass(frozen=True)
class Kind:
    """One kind of posting: where the code posts it, its source type, and how to make one."""

    posted_in: str
    source_type: str
    make: Callable[[Flask, FlaskClient], Posted]
    #: Posted by reverse_entry: the entry keeps the source of the entry it reverses.
    reversal: bool = False


#: Every kind of posting the code makes (docs/ledger.md has the same table in words).
KINDS = [
    Kind("billing/writer.py:write_batch", "invoice", billing.invoice_of_a_run),
    Kind("billing/writer.py:write_batch", "invoice", billing.invoice_with_credit_applied),
    Kind("billing/invoices.py:post_invoice", "invoice", billing.reissued_invoice),
    Kind("billing/penalty_service.py:_store", "penalty", billing.penalties_assessed),
    Kind("billing/adjustments.py:void_invoice", "invoice", billing.void_of_the_invoice, True),
    Kind("billing/adjustments.py:void_invoice", "penalty", billing.void_of_the_penalties, True),
    Kind("billing/adjustments.py:waive_charge", "waiver", billing.waiver),
    Kind("billing/adjustments.py:issue_credit_memo", "credit_memo", billing.credit_memo),
    Kind("billing/adjustments.py:issue_credit_memo", "credit_memo", billing.credit_memo_on_tax),
    Kind(CORRECTION, "credit_memo", billing.corrected_credit_memo),
    Kind(CORRECTION, "credit_memo", billing.correction_reversal, True),
    Kind("payments/services.py:settle_in_book", "payment", payments.card_payment_by_webhook),
    Kind("payments/services.py:settle_in_book", "payment", payments.counter_payment),
    Kind("payments/services.py:settle_in_book", "payment", payments.payment_settled_from_the_queue),
    Kind("payments/refunds.py:void_counter_payment", "payment_void", payments.counter_void),
    Kind("payments/refunds.py:refund_payment", "refund", payments.counter_refund),
    Kind("payments/refunds.py:refund_payment", "refund", payments.card_refund),
    Kind("payments/refunds.py:refund_failed", "refund_failed", payments.failed_refund),
    Kind("payments/disputes.py:open_dispute", "dispute", payments.dispute_opened),
    Kind("payments/disputes.py:close_dispute", "dispute", payments.dispute_won),
    Kind("payments/disputes.py:close_dispute", "dispute", payments.dispute_lost),
    Kind("payments/webhooks.py:post_payout", "payout", payments.payout),
    Kind("payments/ach_returns.py:_reverse", "ach_return", ach.debit_returned),
    Kind("payments/ach_returns.py:_charge_fee", "ach_return_fee", ach.returned_payment_fee),
    Kind("payments/counter.py:_post_over_short", "drawer_over_short", bank_deposits.drawer_short),
    Kind("payments/bank_deposits.py:make_deposit", "bank_deposit", bank_deposits.deposit_made),
    Kind(
        "payments/bank_deposits.py:confirm_at_bank", "bank_deposit", bank_deposits.deposit_at_bank
    ),
    Kind(
        "payments/bank_statements.py:_confirm_deposits",
        "bank_deposit",
        bank_statements.deposit_on_the_statement,
    ),
    Kind(
        "payments/bank_statements.py:_post_fees",
        "bank_fee",
        bank_statements.bank_fee_on_the_statement,
    ),
    Kind("payments/lockbox.py:_hold", "remittance_file", lockbox.queued_items_held),
    Kind("payments/bank_deposits.py:make_deposit", "bank_deposit", lockbox.file_deposited),
    Kind("payments/lockbox_queue.py:return_item", "remittance_item", lockbox.queued_item_returned),
    Kind("payments/fees.py:record_fee", "processor_fee", payments.processor_fee),
    Kind("payments/fee_charges.py:post_fee", "convenience_fee", fees.own_line_fee),
    Kind("payments/fee_charges.py:post_fee", "convenience_fee", fees.separate_fee),
    Kind("payments/fee_charges.py:refund_fee", "convenience_fee", fees.fee_refunded),
    Kind(
        "payments/fee_charges.py:reverse_returned_fee",
        "convenience_fee",
        ach.convenience_fee_returned,
    ),
    Kind(
        "payments/reconcile_actions.py:write_off", "reconciliation", payments.write_off_in_the_queue
    ),
    Kind("payments/reconcile_actions.py:record_refund", "refund", payments.refund_made_at_stripe),
    Kind(
        "billing/balance_transfers.py:transfer_final_balance",
        "balance_transfer",
        service_orders.final_balance_moved,
    ),
    Kind("billing/deposits.py:_move", "deposit", deposits.deposit_held),
    Kind("billing/deposits.py:_move", "deposit", deposits.deposit_applied),
    Kind("payments/discounts.py:settle_discounts", "discount", discounts.discount_earned),
    Kind(
        "payments/discount_reversals.py:_take_back",
        "discount",
        discounts.discount_taken_back,
        True,
    ),
    Kind("billing/conversion_post.py:_opening_entry", "conversion", conversions.opening_balance),
    Kind(
        "billing/estimates.py:settle_excess",
        "estimate_excess",
        estimates.estimate_paid_above_the_tax,
    ),
    Kind(
        "billing/reconnection.py:charge_reconnection_fee",
        "reconnection_fee",
        shutoff.reconnection_fee_charged,
    ),
    Kind("ledger/checkpoints.py:_store", "ledger_checkpoint", checkpoints.checkpoint_of_a_verify),
]


@pytest.mark.parametrize("kind", KINDS, ids=lambda kind: kind.make.__name__)
def test_each_kind_of_entry_names_its_own_document(app, client, kind):
    posted = kind.make(app, client)
    with app.app_context():
        entry = db.session.scalar(sa.select(JournalEntry).where(JournalEntry.seq == posted.seq))
        assert (entry.source_type, entry.source_id) == (kind.source_type, posted.source_id)
        assert posted.names in entry.memo, entry.memo
        assert (entry.reverses_id is not None) == kind.reversal
        assert verify_chain(db.session).ok


class _Postings(ast.NodeVisitor):
    """Collects (function, source type) of each posting call in a module; None for a reversal."""

    def __init__(self) -> None:
        self.found: set[tuple[str, str | None]] = set()
        self.function = "<module>"

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        outer, self.function = self.function, node.name
        self.generic_visit(node)
        self.function = outer

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
        if name in POSTING_CALLS:
            self.found.add((self.function, _source_type(node, *POSTING_CALLS[name])))
        elif name in OWN_SOURCE_CALLS:
            self.found.add((self.function, OWN_SOURCE_CALLS[name]))
        elif name in REVERSING_CALLS:
            self.found.add((self.function, None))
        self.generic_visit(node)


def _source_type(node: ast.Call, keyword: str, position: int | None) -> str:
    """The literal source type a posting call passes; anything else is named as such."""
    value = next((k.value for k in node.keywords if k.arg == keyword), None)
    if value is None and position is not None and len(node.args) > position:
        value = node.args[position]
    if isinstance(value, ast.Constant) and isinstance(value.value, str):
        return value.value
    return f"<not a literal: {ast.unparse(value) if value is not None else 'missing'}>"


def postings_in(source: str) -> set[tuple[str, str | None]]:
    """(function, source type) of every call that posts in a module's source."""
    reader = _Postings()
    reader.visit(ast.parse(source))
    return reader.found


def postings_in_the_code() -> set[tuple[str, str | None]]:
    """(file:function, source type) of every call that posts, in every package of the app."""
    return {
        (f"{path.relative_to(ROOT)}:{function}", kind)
        for _package, path in sources()
        if path != ROOT / "ledger" / "posting.py"  # where posting is defined
        for function, kind in postings_in(path.read_text(encoding="utf-8"))
    }


def test_the_reader_finds_each_way_of_posting():
    source = """
def a(session, entry, kind):
    post_entry(session, [], entry_date=d, source_type="invoice", source_id=n, actor=x)
    posting.post_entry(session, [], source_type=kind, source_id=n)
    return [EntrySpec(p, d, "penalty", n), EntrySpec(p, d, source_type="payment", source_id=n)]

async def b(session, entry):
    def inner():
        reverse_entry(session, entry, actor=x, entry_date=d, memo="")
    post_entry(session, [])
"""
    assert postings_in(source) == {
        ("a", "invoice"),
        ("a", "<not a literal: kind>"),
        ("a", "penalty"),
        ("a", "payment"),
        ("inner", None),
        ("b", "<not a literal: missing>"),
    }


def test_the_table_covers_every_place_and_source_type_the_code_posts():
    in_the_table = {(k.posted_in, None if k.reversal else k.source_type) for k in KINDS}
    in_the_code = postings_in_the_code()
    assert in_the_code - in_the_table == set(), "the code posts kinds the table does not list"
    assert in_the_table - in_the_code == set(), "the table lists kinds the code no longer posts"
    source_types = {kind for _place, kind in in_the_code if kind is not None}
    assert source_types == {k.source_type for k in KINDS if not k.reversal}
