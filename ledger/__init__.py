"""The general ledger: what the municipality's books say, and the proof that nothing was altered.

What belongs here: the chart of accounts (with the accounts each service kind and
taxing jurisdiction adds), posting balanced journal entries and reversing them, the
hash chain and its verification, balances (GL accounts, each billing account's
receivable and credit, the trial balance), the auditors' exports and the
standard-library checker of a ledger export, their API and CLI.

The ledger imports only core. It knows the billing accounts of its subledger, and
the tables it exports, by their table names (docs/architecture.md).
"""
