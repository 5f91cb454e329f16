"""Billing models, importable from one place."""

from billing.models.accounts import (
    Account,
    AccountStatus,
    Language,
    MeterReading,
    Parcel,
    ParcelValuation,
    ReadingKind,
    ServiceKind,
    ServicePoint,
    TaxingJurisdiction,
)
from billing.models.invoices import (
    Invoice,
    InvoiceKind,
    InvoiceLine,
    InvoiceStatus,
    LineCategory,
    NumberSeries,
)
from billing.models.ledger import (
    GLAccount,
    GLCategory,
    GLType,
    JournalEntry,
    JournalLine,
    LedgerHead,
)

__all__ = [
    "Account",
    "AccountStatus",
    "GLAccount",
    "GLCategory",
    "GLType",
    "Invoice",
    "InvoiceKind",
    "InvoiceLine",
    "InvoiceStatus",
    "JournalEntry",
    "JournalLine",
    "Language",
    "LedgerHead",
    "LineCategory",
    "MeterReading",
    "NumberSeries",
    "Parcel",
    "ParcelValuation",
    "ReadingKind",
    "ServiceKind",
    "ServicePoint",
    "TaxingJurisdiction",
]
