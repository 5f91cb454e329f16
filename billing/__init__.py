"""Billing: what the municipality bills and what it is owed.

What belongs here: billing accounts, parcels and their assessments, service
points, meters and readings, rate plans, tax levies and taxing jurisdictions,
invoices and their lines, billing runs, late-fee rules, the general ledger
(chart of accounts, journal entries, the hash chain), receivables reports and
exports, and the demo town.

Pure computing modules (rating, tax, penalties, the ledger's hash form) take
plain values and an explicit as-of date; services work against the database
and receive the session and the acting Actor.
"""
