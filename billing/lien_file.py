"""The lien (tax certificate) sale file: a CSV of header, detail and trailer records, modelled on
the county tax certificate sale files (docs/liens.md, "The sale file" names every column)."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import date

from billing.liens import SaleEntry
from billing.models import LienSale
from billing.tax_delinquency import dollars

#: The layout's version, in the header record.
LAYOUT = "MB-LIEN-1"
HEADER = ("record", "list_id", "sale_date", "amounts_as_of", "certified", "layout")
DETAIL = (
    "record",
    "sequence",
    "parcel_number",
    "account",
    "owner",
    "situs",
    "property_class",
    "tax_years",
    "principal",
    "penalties_interest",
    "lien_amount",
    "cost",
    "total_due",
)
TRAILER = (
    "record",
    "detail_count",
    "principal",
    "penalties_interest",
    "lien_amount",
    "cost",
    "total_due",
)


def entries_of_sale(sale: LienSale) -> list[SaleEntry]:
    """A certified sale's liens as the entries they were frozen from."""
    return [
        SaleEntry(
            parcel_id=lien.parcel_id,
            parcel_number=lien.parcel.parcel_number,
            account_id=lien.account_id,
            account_number=lien.account.number,
            owner=lien.account.holder_name,
            situs=(f"{lien.parcel.situs_street}, {lien.parcel.situs_city} {lien.parcel.situs_zip}"),
            property_class=lien.parcel.property_class.lower(),
            tax_years=lien.tax_years,
            principal_cents=lien.principal_cents,
            charges_cents=lien.charges_cents,
            cost_cents=lien.cost_cents,
            invoice_ids=(),
        )
        for lien in sale.liens
    ]


def sale_file(
    list_id: str, sale_date: date, as_of: date, entries: Sequence[SaleEntry], *, certified: bool
) -> str:
    """The sale file: one H record, a D record per parcel (by parcel number), one T record."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(
        ["H", list_id, sale_date.isoformat(), as_of.isoformat(), "Y" if certified else "N", LAYOUT]
    )
    ordered = sorted(entries, key=lambda e: e.parcel_number)
    for sequence, entry in enumerate(ordered, start=1):
        writer.writerow(
            [
                "D",
                sequence,
                entry.parcel_number,
                entry.account_number,
                entry.owner,
                entry.situs,
                entry.property_class,
                entry.tax_years,
                dollars(entry.principal_cents),
                dollars(entry.charges_cents),
                dollars(entry.amount_cents),
                dollars(entry.cost_cents),
                dollars(entry.amount_cents + entry.cost_cents),
            ]
        )
    principal = sum(e.principal_cents for e in ordered)
    charges = sum(e.charges_cents for e in ordered)
    cost = sum(e.cost_cents for e in ordered)
    writer.writerow(
        [
            "T",
            len(ordered),
            dollars(principal),
            dollars(charges),
            dollars(principal + charges),
            dollars(cost),
            dollars(principal + charges + cost),
        ]
    )
    return out.getvalue()
