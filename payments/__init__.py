"""Payments: money coming in and going back out.

What belongs here: the Stripe gateway (the only module that imports
`stripe`), payment intents and the pay flow, webhook intake and handlers,
allocation of payments to invoices (pure), account credit, refunds and
disputes, counter payments and cash drawers, receipts and the reconciliation
of our records against Stripe's. Builds on billing; never the other way round.
"""
