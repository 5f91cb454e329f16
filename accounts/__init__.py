"""Accounts: who is billed, for what property and which services.

What belongs here: billing accounts (households and businesses, their mailing
address, language and quick-pay access code), parcels and their assessed values,
service points and their meters, meter readings, the CSV imports of all of these,
their API, staff pages and CLI.

accounts imports core and ledger (docs/architecture.md).
"""
