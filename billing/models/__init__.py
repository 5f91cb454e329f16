"""Billing's models, importable from one place: invoices and their settlements, the rules
(rate plans, levies, penalty rules), billing runs, billing cycles, payment plans, the
shutoff rules and the lien sale rules, lists and liens."""

from billing.models.cycles import BillingCycle, CycleFrequency, CyclePeriod
from billing.models.deposits import (
    Deposit,
    DepositMovement,
    DepositRuleSet,
    DepositStatus,
    MovementKind,
    OwedDeposit,
    OwedStatus,
    RefundMethod,
)
from billing.models.invoices import (
    CreditMemo,
    Invoice,
    InvoiceCharge,
    InvoiceDiscount,
    InvoiceInstallment,
    InvoiceKind,
    InvoiceLine,
    InvoiceStatus,
    LineCategory,
    Settlement,
    SettlementKind,
)
from billing.models.liens import Lien, LienInvoice, LienRule, LienSale, LienStatus
from billing.models.payoff import (
    PayoffOutcome,
    PayoffPayment,
    PayoffQuote,
    QuoteStatus,
    Requester,
)
from billing.models.plans import (
    PaymentPlan,
    PlanInstallment,
    PlanInvoice,
    PlanRule,
    PlanStatus,
)
from billing.models.rules import PenaltyRuleSet, RatePlan, TaxYearLevy, TownClosedDay
from billing.models.runs import BillingRun, RunStatus
from billing.models.shutoff import (
    DoorHanger,
    MedicalCertificate,
    NotDoneReason,
    OrderState,
    ReconnectionOrder,
    ShutoffOrder,
    ShutoffRule,
)
from billing.models.winter import WinterAverage, WinterUsage

__all__ = [
    "PayoffOutcome",
    "PayoffPayment",
    "PayoffQuote",
    "QuoteStatus",
    "Requester",
    "BillingCycle",
    "BillingRun",
    "CreditMemo",
    "CycleFrequency",
    "CyclePeriod",
    "Invoice",
    "InvoiceCharge",
    "InvoiceInstallment",
    "InvoiceKind",
    "InvoiceLine",
    "InvoiceStatus",
    "LineCategory",
    "PenaltyRuleSet",
    "RatePlan",
    "RunStatus",
    "Settlement",
    "SettlementKind",
    "TaxYearLevy",
    "TownClosedDay",
    "WinterAverage",
    "WinterUsage",
    "InvoiceDiscount",
    "Deposit",
    "DepositMovement",
    "DepositRuleSet",
    "DepositStatus",
    "MovementKind",
    "OwedDeposit",
    "OwedStatus",
    "RefundMethod",
    "PaymentPlan",
    "PlanInstallment",
    "PlanInvoice",
    "PlanRule",
    "PlanStatus",
    "MedicalCertificate",
    "ShutoffRule",
    "DoorHanger",
    "NotDoneReason",
    "OrderState",
    "ReconnectionOrder",
    "ShutoffOrder",
    "Lien",
    "LienInvoice",
    "LienRule",
    "LienSale",
    "LienStatus",
]
