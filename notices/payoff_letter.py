"""The payoff quote letter (docs/payoff-quotes.md): the town's letterhead, the quote number,
the parcel, its situs and owner, each installment's line, the total, the good-through date and
how to pay, with a remittance stub that names the quote; in English, or in Spanish for an owner
whose account reads Spanish.

The stub carries no scan line: a scan line names an account, and the lockbox would take the
payment as one of the owner's account (oldest bill first) instead of the quote. The quote
number is the reference the payer writes on the check or the bill-pay item.
"""

from __future__ import annotations

import io
from collections.abc import Mapping

from reportlab.pdfgen.canvas import Canvas

from billing.models import PayoffQuote
from core.money import format_cents
from notices.mail_message import format_date
from notices.pdf_sheet import BOLD, MARGIN, PAGE_HEIGHT, REGULAR, RIGHT
from notices.plan_letters import _facts, _header, _lines

TEXTS = {
    "en": {
        "title": "Property tax payoff quote",
        "quote": "Quote number",
        "issued": "Issued",
        "for": "Requested by",
        "parcel": "Parcel",
        "situs": "Property address",
        "owner": "Owner",
        "account": "Tax account",
        "columns": ("Bill", "Year", "Installment", "Tax", "Penalty and interest", "Total"),
        "whole": "whole bill",
        "total": "Amount to pay the parcel off",
        "good_through": "Good through {day}",
        "nothing": "No property tax is owed on this parcel as of {day}.",
        "how": [
            "Pay the amount above on or before {day} at the town office, or mail a check",
            "payable to {town} with the quote number {number} as its reference.",
            "Penalties and interest are included through {day}. A payment received after",
            "that date may not pay the parcel off. Anything paid beyond what the parcel",
            "owes on the day the town receives it is returned to the payer by check.",
        ],
        "stub": "Return this part with your payment",
        "pay_by": "Pay by",
        "amount": "Amount",
    },
    "es": {
        "title": "Cotización de liquidación del impuesto predial",
        "quote": "Número de cotización",
        "issued": "Emitida",
        "for": "Solicitada por",
        "parcel": "Parcela",
        "situs": "Dirección de la propiedad",
        "owner": "Propietario",
        "account": "Cuenta de impuestos",
        "columns": ("Factura", "Año", "Cuota", "Impuesto", "Recargo e intereses", "Total"),
        "whole": "factura completa",
        "total": "Importe para liquidar la parcela",
        "good_through": "Válida hasta el {day}",
        "nothing": "No se debe impuesto predial sobre esta parcela al {day}.",
        "how": [
            "Pague el importe indicado a más tardar el {day} en la oficina municipal, o envíe",
            "un cheque a nombre de {town} con el número de cotización {number} como referencia.",
            "Los recargos e intereses están incluidos hasta el {day}. Un pago recibido después",
            "de esa fecha puede no liquidar la parcela. Lo pagado de más sobre lo que la parcela",
            "debe el día en que el municipio lo recibe se devuelve al pagador por cheque.",
        ],
        "stub": "Devuelva esta parte con su pago",
        "pay_by": "Pague a más tardar",
        "amount": "Importe",
    },
}
#: The x of each column's right edge (the first three are left-aligned from their x).
COLUMNS = (MARGIN, MARGIN + 90, MARGIN + 140, MARGIN + 300, MARGIN + 430, RIGHT)


def letter_texts(language: str) -> dict:
    """The letter's texts in a language; English when munibill has none for it."""
    return TEXTS.get(str(language).lower(), TEXTS["en"])


def _table(canvas: Canvas, y: float, quote: PayoffQuote, t: dict) -> float:
    """One row per installment, then the total; returns the next y."""
    canvas.setFont(BOLD, 9)
    for i, heading in enumerate(t["columns"]):
        if i < 3:
            canvas.drawString(COLUMNS[i], y, heading)
        else:
            canvas.drawRightString(COLUMNS[i], y, heading)
    y -= 14
    canvas.setFont(REGULAR, 9)
    for line in quote.lines:
        charges = line["charges_cents"] + line["projected_cents"]
        cells = (
            line["invoice"],
            str(line["tax_year"]),
            str(line["installment"]) if line["installment"] else t["whole"],
        )
        for i, cell in enumerate(cells):
            canvas.drawString(COLUMNS[i], y, cell)
        canvas.drawRightString(COLUMNS[3], y, format_cents(line["principal_cents"]))
        canvas.drawRightString(COLUMNS[4], y, format_cents(charges))
        canvas.drawRightString(COLUMNS[5], y, format_cents(line["total_cents"]))
        y -= 13
    canvas.setFont(BOLD, 11)
    y -= 6
    canvas.drawString(MARGIN, y, t["total"])
    canvas.drawRightString(RIGHT, y, format_cents(quote.amount_cents))
    return y - 18


def _stub(canvas: Canvas, quote: PayoffQuote, t: dict, lang: str) -> None:
    """The remittance stub at the foot of the page: the quote number, the date, the amount."""
    top = MARGIN + 90
    canvas.setDash(3, 3)
    canvas.line(MARGIN, top + 14, RIGHT, top + 14)
    canvas.setDash()
    canvas.setFont(REGULAR, 8)
    canvas.drawString(MARGIN, top, t["stub"])
    _facts(
        canvas,
        top - 20,
        [
            (t["quote"], quote.number),
            (t["parcel"], quote.parcel.parcel_number),
            (t["pay_by"], format_date(quote.good_through, lang)),
            (t["amount"], format_cents(quote.amount_cents)),
        ],
    )


def payoff_letter_pdf(config: Mapping, quote: PayoffQuote) -> bytes:
    """The payoff quote letter as a PDF (US Letter, one page)."""
    t = letter_texts(quote.language)
    lang = "es" if quote.language == "es" else "en"
    parcel, account = quote.parcel, quote.account
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=(RIGHT + MARGIN, PAGE_HEIGHT))
    canvas.setTitle(f"{t['title']} {quote.number}")
    y = _header(canvas, config, t["title"])
    y = _lines(canvas, y, [quote.requester_name, *quote.requester_address.splitlines()])
    y = _facts(
        canvas,
        y - 10,
        [
            (t["quote"], quote.number),
            (t["issued"], format_date(quote.issued_on, lang)),
            (t["parcel"], parcel.parcel_number),
            (t["situs"], f"{parcel.situs_street}, {parcel.situs_city} {parcel.situs_zip}"),
            (t["owner"], account.holder_name),
            (t["account"], account.number),
        ],
    )
    y -= 12
    if quote.lines:
        y = _table(canvas, y, quote, t)
    else:
        y = _lines(canvas, y, [t["nothing"].format(day=format_date(quote.issued_on, lang))])
    canvas.setFont(BOLD, 12)
    canvas.drawString(
        MARGIN, y, t["good_through"].format(day=format_date(quote.good_through, lang))
    )
    day = format_date(quote.good_through, lang)
    how = [
        line.format(day=day, town=config["MUNICIPALITY_NAME"], number=quote.number)
        for line in t["how"]
    ]
    _lines(canvas, y - 22, how, size=9)
    _stub(canvas, quote, t, lang)
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()
