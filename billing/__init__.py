"""Billing: what the municipality bills, and how each amount was computed.

What belongs here: rating utility usage by rate plans, property tax by levies,
penalties and interest by their rules, the rules formats (JSON and YAML), billing
runs (preview, post, resume), invoices and their settlements, voids, reissues and
credit memos, and their API, CLI and scheduled jobs.

Pure computing modules (rating, tax, penalties, usage) take plain values and an
explicit as-of date; services work against the database and receive the session
and the acting Actor. billing imports core, ledger and accounts (docs/architecture.md).
"""
