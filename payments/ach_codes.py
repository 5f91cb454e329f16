"""ACH return codes (NACHA) with words for residents, and Stripe's failure codes mapped to them.

Pure data and lookups: no Flask, no session. Stripe does not pass the bank's R code
through; it names the failure (`insufficient_funds`, `account_closed` ...) on the
charge (`failure_code`) or the intent's `last_payment_error.code`. STRIPE_CODES maps
those to the R code a treasurer reads on the bank's return report.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ReturnCode:
    """One NACHA return code: what the bank means, and what the resident reads."""

    code: str
    #: The bank's meaning, for staff pages and the audit log.
    meaning: str
    #: What the resident reads, by language.
    resident: dict[str, str]
    #: True when the account itself cannot be debited again (closed, not found, unauthorised):
    #: one such return blocks the bank account whatever the rule's count.
    final: bool = False


def _code(code: str, meaning: str, en: str, es: str, *, final: bool = False) -> ReturnCode:
    """A table row."""
    return ReturnCode(code, meaning, {"en": en, "es": es}, final)


_CHECK_BANK_EN = "Your bank did not pay this debit. Please contact your bank, then pay again."
_CHECK_BANK_ES = "Su banco no pagó este débito. Comuníquese con su banco y vuelva a pagar."

#: The return codes, R01..R29 and the ones Stripe names most often.
CODES: dict[str, ReturnCode] = {
    row.code: row
    for row in (
        _code(
            "R01",
            "Insufficient funds",
            "Your bank returned this payment because the account did not have enough money.",
            "Su banco devolvió este pago porque la cuenta no tenía fondos suficientes.",
        ),
        _code(
            "R02",
            "Account closed",
            "Your bank returned this payment because the account is closed.",
            "Su banco devolvió este pago porque la cuenta está cerrada.",
            final=True,
        ),
        _code(
            "R03",
            "No account / unable to locate account",
            "Your bank returned this payment because it could not find the account.",
            "Su banco devolvió este pago porque no encontró la cuenta.",
            final=True,
        ),
        _code(
            "R04",
            "Invalid account number",
            "Your bank returned this payment because the account number is not valid.",
            "Su banco devolvió este pago porque el número de cuenta no es válido.",
            final=True,
        ),
        _code("R05", "Unauthorized debit to consumer account", _CHECK_BANK_EN, _CHECK_BANK_ES),
        _code("R06", "Returned per originating bank's request", _CHECK_BANK_EN, _CHECK_BANK_ES),
        _code(
            "R07",
            "Authorization revoked by customer",
            "Your bank returned this payment because you withdrew the authorization.",
            "Su banco devolvió este pago porque usted retiró la autorización.",
            final=True,
        ),
        _code(
            "R08",
            "Payment stopped",
            "Your bank returned this payment because a stop payment was placed on it.",
            "Su banco devolvió este pago porque se ordenó suspenderlo.",
        ),
        _code(
            "R09",
            "Uncollected funds",
            "Your bank returned this payment because the funds were not yet available.",
            "Su banco devolvió este pago porque los fondos aún no estaban disponibles.",
        ),
        _code(
            "R10",
            "Customer advises not authorized",
            "Your bank returned this payment because it was reported as not authorized.",
            "Su banco devolvió este pago porque se informó que no estaba autorizado.",
            final=True,
        ),
        _code(
            "R11",
            "Customer advises entry not in accordance with the terms",
            _CHECK_BANK_EN,
            _CHECK_BANK_ES,
        ),
        _code("R12", "Branch sold to another bank", _CHECK_BANK_EN, _CHECK_BANK_ES, final=True),
        _code("R13", "Invalid routing number", _CHECK_BANK_EN, _CHECK_BANK_ES, final=True),
        _code("R14", "Account holder deceased", _CHECK_BANK_EN, _CHECK_BANK_ES, final=True),
        _code("R15", "Beneficiary deceased", _CHECK_BANK_EN, _CHECK_BANK_ES, final=True),
        _code(
            "R16",
            "Account frozen",
            "Your bank returned this payment because the account is frozen.",
            "Su banco devolvió este pago porque la cuenta está congelada.",
            final=True,
        ),
        _code("R17", "File record edit criteria", _CHECK_BANK_EN, _CHECK_BANK_ES),
        _code("R20", "Non-transaction account", _CHECK_BANK_EN, _CHECK_BANK_ES, final=True),
        _code("R23", "Credit entry refused by receiver", _CHECK_BANK_EN, _CHECK_BANK_ES),
        _code("R24", "Duplicate entry", _CHECK_BANK_EN, _CHECK_BANK_ES),
        _code(
            "R29",
            "Corporate customer advises not authorized",
            _CHECK_BANK_EN,
            _CHECK_BANK_ES,
            final=True,
        ),
    )
}

#: Stripe's failure codes for ACH debits, and the return code each stands for.
STRIPE_CODES: dict[str, str] = {
    "insufficient_funds": "R01",
    "account_closed": "R02",
    "no_account": "R03",
    "invalid_account_number": "R04",
    "debit_not_authorized": "R10",
    "bank_account_restricted": "R16",
    "account_frozen": "R16",
    "bank_account_frozen": "R16",
    "invalid_currency": "R17",
    "bank_account_unusable": "R20",
    "stop_payment": "R08",
    "authorization_revoked": "R07",
}
#: A failure Stripe names with no code of the table: the bank returned it, reason not given.
UNSPECIFIED = "R06"


def return_code(stripe_code: str | None) -> ReturnCode:
    """The return code of a Stripe failure code, or of an R code given as is; R06 when unknown."""
    text = (stripe_code or "").strip()
    if text.upper() in CODES:
        return CODES[text.upper()]
    return CODES[STRIPE_CODES.get(text.lower(), UNSPECIFIED)]


def resident_words(code: str, language: str = "en") -> str:
    """What a resident reads about a return, in their language (English when it has none)."""
    row = CODES.get(code, CODES[UNSPECIFIED])
    return row.resident.get(language) or row.resident["en"]
