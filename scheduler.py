"""The schedule table; nothing else (core.scheduling runs it, `munibill scheduler` starts it).

Each entry names a module-level function in a package's jobs.py, called with
(session, JobContext) inside an app context by the leading scheduler process,
once per trigger, in the municipality's time zone.
"""

from __future__ import annotations

from core.scheduling import Entry

SCHEDULE: list[Entry] = [
    Entry(
        "review_payment_plans",
        "notices.jobs:review_payment_plans",
        "cron",
        # NOTE: before the late fees and the reminders of the night, so a plan that defaults
        # today has its penalties and reminders resume the same day.
        {"hour": 1, "minute": 45},
    ),
    Entry("assess_late_fees", "billing.jobs:assess_late_fees", "cron", {"hour": 2, "minute": 15}),
    Entry(
        "charge_autopay",
        "portal.jobs:charge_autopay",
        "cron",
        {"hour": 5, "minute": 30},
        setting="AUTOPAY_ENABLED",
    ),
    Entry("send_reminders", "notices.jobs:send_reminders", "cron", {"hour": 6, "minute": 0}),
    Entry(
        "send_shutoff_notices",
        "notices.jobs:send_shutoff_notices",
        "cron",
        # NOTE: after the plan review and the payments of the night, so a plan that defaulted
        # today or a payment that settled counts.
        {"hour": 6, "minute": 15},
    ),
    Entry(
        "send_held_texts",
        "notices.jobs:send_held_texts",
        "interval",
        # NOTE: the texts of the 06:15 notices wait for the end of the quiet hours (08:00).
        {"minutes": 15},
        setting="TEXTS_ENABLED",
    ),
    Entry(
        "leave_door_hangers",
        "notices.jobs:leave_door_hangers",
        "cron",
        # NOTE: after the shutoff notices and the night's payments, before the crews go out.
        {"hour": 6, "minute": 30},
    ),
    Entry(
        "issue_shutoff_orders",
        "notices.jobs:issue_shutoff_orders",
        "cron",
        # NOTE: after the door hangers: a paid or excluded account's open order is cancelled first.
        {"hour": 6, "minute": 45},
    ),
    Entry(
        "purge_portal_sessions",
        "portal.jobs:purge_portal_sessions",
        "cron",
        {"hour": 3, "minute": 30},
    ),
    Entry("janitor", "payments.jobs:janitor", "interval", {"minutes": 15}),
    Entry("tell_bank_returns", "portal.jobs:tell_bank_returns", "interval", {"minutes": 15}),
    Entry("processor_fees", "payments.jobs:processor_fees", "interval", {"hours": 1}),
    Entry("reconcile_stripe", "payments.jobs:reconcile_stripe", "interval", {"hours": 1}),
    Entry(
        "utility_billing_run",
        "billing.jobs:utility_billing_run",
        "cron",
        # NOTE: daily, as routes bill on different days of the month (billing.cycles).
        {"hour": 1, "minute": 0},
        setting="SCHEDULED_BILLING_RUNS",
    ),
    Entry(
        "credit_deposit_interest",
        "billing.jobs:credit_deposit_interest",
        "cron",
        {"month": 1, "day": 2, "hour": 2, "minute": 45},
    ),
    Entry(
        "verify_ledger",
        "ledger.jobs:verify_ledger",
        "cron",
        # NOTE: after the night's billing, late fees and deposits, before the morning's
        # notices; the entries since the latest checkpoint only (docs/ledger.md).
        {"hour": 4, "minute": 0},
    ),
    Entry(
        "verify_ledger_full",
        "ledger.jobs:verify_ledger_full",
        "cron",
        # NOTE: the whole chain once a week, Sunday night, so a change to an entry before the
        # latest checkpoint is found within a week.
        {"day_of_week": "sun", "hour": 4, "minute": 30},
    ),
    Entry("refund_deposits", "payments.jobs:refund_deposits", "cron", {"hour": 3, "minute": 0}),
    Entry(
        "ask_late_payment_deposits",
        "billing.jobs:ask_late_payment_deposits",
        "cron",
        # NOTE: after the late fees of the night, so a bill that became late today counts.
        {"hour": 3, "minute": 15},
    ),
    Entry(
        "keep_dashboard_figures",
        "console.jobs:keep_dashboard_figures",
        "cron",
        # NOTE: after the night's late fees, deposits asked and billing runs, before the clerks.
        {"hour": 4, "minute": 0},
    ),
]


def main() -> None:
    """Run the scheduler until interrupted (the same as `munibill scheduler`)."""
    from core import create_app
    from core.scheduling import serve

    serve(create_app(), SCHEDULE)


if __name__ == "__main__":
    main()
