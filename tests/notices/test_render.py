"""The ReportLab renderer: every kind of notice, both languages, the stub's codes.

No database and no app: documents come from tests/notices/documents.py. The
first page of every notice is left as a PNG in test-artifacts/notices/ for a
person to look at.
"""

from __future__ import annotations

import io
import subprocess
from dataclasses import replace
from datetime import date
from pathlib import Path

import pypdf
import pytest
from PIL import Image

from notices.document import NoticeDocument, NoticeKind
from notices.pdf_sheet import STUB_HEIGHT
from notices.render import render
from notices.scanline import parse, printed
from notices.texts import EN, ES, TEXTS
from tests.notices import documents

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "notices"
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"]  # fmt: skip
MESES = ["enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre", "octubre", "noviembre", "diciembre"]  # fmt: skip
KINDS = list(NoticeKind)


def english(day: date) -> str:
    return f"{MONTHS[day.month - 1]} {day.day}, {day.year}"


def spanish(day: date) -> str:
    return f"{day.day} de {MESES[day.month - 1]} de {day.year}"


def dollars(cents: int) -> str:
    whole, part = divmod(abs(cents), 100)
    return f"{'-' if cents < 0 else ''}${whole:,}.{part:02d}"


def pages_text(pdf: bytes) -> list[str]:
    """Each page's text, whitespace collapsed."""
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    return [" ".join(page.extract_text().split()) for page in reader.pages]


def expected(doc: NoticeDocument) -> list[str]:
    """What any notice must show of its document."""
    day = english if doc.language == "en" else spanish
    out = [doc.account_number, doc.reference, day(doc.issue_date)]
    if doc.access_code:
        out.append(doc.access_code)
    if doc.due_date:
        out.append(day(doc.due_date))
    if doc.action_date:
        out.append(day(doc.action_date))
    if doc.period_start and doc.period_end:
        out += [day(doc.period_start), day(doc.period_end)]
    if doc.summary:
        s = doc.summary
        out += [
            dollars(s.previous_balance_cents),
            dollars(-s.payments_and_credits_cents),  # credits show as a minus
            dollars(s.penalties_cents),
            dollars(s.current_charges_cents),
            dollars(s.total_due_cents),
        ]
    for line in doc.lines:
        out += [line.description, dollars(line.amount_cents)]
    for row in doc.activity:
        out += [row.description, dollars(row.amount_cents)]
    for read in doc.reads:
        out += [read.meter_id, f"{read.consumption:,f}"]
    for stub in doc.stubs:
        out += [printed(stub.scan_line), dollars(stub.amount_due_cents), day(stub.due_date)]
    if doc.kind in (NoticeKind.RECEIPT, NoticeKind.REFUND):
        out += [dollars(doc.amount_cents), doc.tender, dollars(doc.balance_after_cents)]
    if doc.penalty_cents:
        out.append(dollars(doc.penalty_cents))
    out += list(doc.messages)
    return out


@pytest.fixture(scope="module")
def rendered() -> dict[str, tuple[NoticeDocument, bytes]]:
    """Every kind in English, the utility and tax bills in Spanish too, keyed by artifact name."""
    docs = {kind.value: documents.BY_KIND[kind]() for kind in KINDS}
    docs["utility_bill-es"] = documents.utility_bill("es")
    docs["tax_bill-es"] = documents.tax_bill("es")
    return {name: (doc, render(doc)) for name, doc in docs.items()}


def test_both_languages_have_the_same_wording_keys():
    assert set(EN) == set(ES)
    for key in EN:
        assert type(EN[key]) is type(ES[key]), key
    assert len(EN["months"]) == len(ES["months"]) == 12
    assert len(EN["months.short"]) == len(ES["months.short"]) == 12
    assert set(TEXTS) == {"en", "es"}


@pytest.mark.parametrize("name", [k.value for k in KINDS] + ["utility_bill-es", "tax_bill-es"])
def test_every_notice_shows_its_account_reference_amounts_dates_and_lines(rendered, name):
    doc, pdf = rendered[name]
    assert pdf.startswith(b"%PDF-")
    text = " ".join(pages_text(pdf))
    missing = [item for item in expected(doc) if item not in text]
    assert not missing, f"{name} lacks {missing}"


def test_utility_bill_shows_its_labels_money_and_dates_in_english(rendered):
    doc, pdf = rendered["utility_bill"]
    text = pages_text(pdf)[0]
    for label in (
        "Utility Bill",
        "Account number",
        "Access code",
        "Service location",
        "Billing period",
        "Issue date",
        "Due date",
        "Meter readings",
        "Consumption",
        "Account summary",
        "Previous balance",
        "Payments and credits",
        "TOTAL DUE",
        "Usage, last 13 months",
        "Amount enclosed",
        "Page 1 of 1",
    ):
        assert label in text, label
    assert "November 23, 2026" in text
    assert "October 1, 2026 to October 31, 2026" in text
    assert "-$118.42" in text  # the payment, a credit
    assert "$119.04" in text
    # The chart's month labels: "Oct" "25" for the oldest bar, "Oct" "26" for this bill.
    assert "Oct" in text and "Jun" in text


def test_spanish_utility_bill_speaks_spanish(rendered):
    _, pdf = rendered["utility_bill-es"]
    text = pages_text(pdf)[0]
    for label in (
        "Factura de servicios",
        "Número de cuenta",
        "Código de acceso",
        "Fecha de vencimiento",
        "Importe adeudado",
        "Cantidad incluida",
        "Lecturas del medidor",
        "Resumen de la cuenta",
        "TOTAL ADEUDADO",
        "Página 1 de 1",
        "Desprenda y devuelva esta parte con su pago",
        "Ene",
        "Dic",
    ):
        assert label in text, label
    assert "23 de noviembre de 2026" in text
    assert "Due date" not in text and "Amount due" not in text


def test_spanish_tax_bill_speaks_spanish(rendered):
    _, pdf = rendered["tax_bill-es"]
    text = " ".join(pages_text(pdf))
    for label in ("Factura de impuestos", "Parcela", "Plazos", "Plazo 2 de 2", "Página 2 de 2"):
        assert label in text, label
    assert "16 de noviembre de 2026" in text and "16 de febrero de 2027" in text


def test_installment_labels_are_spelled_out_or_kept(rendered):
    text = " ".join(pages_text(rendered["tax_bill"][1]))
    assert "Installment 1 of 2" in text and "Installment 2 of 2" in text
    assert "1/2" not in text
    doc = documents.tax_bill()
    named = replace(doc, stubs=(replace(doc.stubs[0], label="First half"), doc.stubs[1]))
    text = " ".join(pages_text(render(named)))
    assert "First half" in text and "Installment 2 of 2" in text


def test_final_notice_states_the_deadline_and_the_municipality_wording(rendered):
    doc, pdf = rendered["final"]
    text = pages_text(pdf)[0]
    assert "Final Notice" in text
    assert "Deadline" in text and "December 28, 2026" in text
    for message in doc.messages:
        assert message in text


def test_receipt_has_no_stub_and_no_access_code(rendered):
    doc, pdf = rendered["receipt"]
    text = pages_text(pdf)[0]
    assert "Access code" not in text
    assert "PAYMENT STUB" not in text
    assert "Amount paid" in text and "Visa ending in 4242" in text
    assert "Remaining balance" in text and "$2.00" in text


def test_statement_shows_the_running_balance(rendered):
    doc, pdf = rendered["statement"]
    text = pages_text(pdf)[0]
    assert "Statement period" in text and "Closing balance" in text
    for row in doc.activity:
        assert dollars(row.balance_cents) in text


def test_pdf_metadata_names_the_notice(rendered):
    reader = pypdf.PdfReader(io.BytesIO(rendered["utility_bill"][1]))
    info = reader.metadata
    assert info.title == "Utility bill 2026-000123"
    assert info.author == "City of Maple Falls"
    assert info.subject == f"Utility bill, account {documents.ACCOUNT}"
    assert info.creator == "munibill"
    assert reader.trailer["/Root"]["/Lang"] == "en-US"
    reader = pypdf.PdfReader(io.BytesIO(rendered["tax_bill-es"][1]))
    assert reader.metadata.title == "Factura de impuestos 2026-T-004512"
    assert reader.trailer["/Root"]["/Lang"] == "es-US"


def test_same_document_same_bytes_and_a_changed_amount_changes_them():
    doc = documents.utility_bill()
    first = render(doc)
    assert render(documents.utility_bill()) == first
    lines = (replace(doc.lines[0], amount_cents=doc.lines[0].amount_cents + 1), *doc.lines[1:])
    assert render(replace(doc, lines=lines)) != first


@pytest.mark.parametrize("name", [k.value for k in KINDS] + ["utility_bill-es", "tax_bill-es"])
def test_every_pdf_passes_qpdf_check(rendered, name, tmp_path):
    path = tmp_path / f"{name}.pdf"
    path.write_bytes(rendered[name][1])
    result = subprocess.run(["qpdf", "--check", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No syntax or stream encoding errors found" in result.stdout


def test_first_pages_are_left_as_pngs_to_look_at(rendered, tmp_path):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for name, (_, pdf) in rendered.items():
        source = tmp_path / f"{name}.pdf"
        source.write_bytes(pdf)
        subprocess.run(
            ["pdftoppm", "-png", "-r", "100", "-f", "1", "-l", "1", "-singlefile", source,
             ARTIFACTS / name],
            check=True,
        )  # fmt: skip
        with Image.open(ARTIFACTS / f"{name}.png") as image:
            assert image.size == (850, 1100)


def page_image(pdf: bytes, page: int, dpi: int, folder: Path) -> Image.Image:
    source = folder / "notice.pdf"
    source.write_bytes(pdf)
    target = folder / f"page-{page}-{dpi}"
    subprocess.run(
        ["pdftoppm", "-r", str(dpi), "-png", "-f", str(page), "-l", str(page), "-singlefile",
         source, target],
        check=True,
    )  # fmt: skip
    return Image.open(f"{target}.png")


def symbols(image: Image.Image) -> dict[str, list[str]]:
    """The Code 128 and QR symbols zbar finds, by type."""
    from pyzbar.pyzbar import ZBarSymbol, decode

    found: dict[str, list[str]] = {"CODE128": [], "QRCODE": []}
    for symbol in decode(image, symbols=[ZBarSymbol.CODE128, ZBarSymbol.QRCODE]):
        found[symbol.type].append(symbol.data.decode())
    return found


def stub_page(index: int) -> int:
    """The page of a notice's stub: the first on page 1, then two to a page."""
    return 1 if index == 0 else 2 + (index - 1) // 2


@pytest.mark.parametrize("name", ["utility_bill", "reminder", "past_due", "final", "statement"])
def test_the_stubs_barcode_and_qr_code_decode(rendered, name, tmp_path):
    doc, pdf = rendered[name]
    (stub,) = doc.stubs
    found = symbols(page_image(pdf, 1, 200, tmp_path))
    assert found == {"CODE128": [stub.scan_line], "QRCODE": [stub.pay_url]}
    assert parse(found["CODE128"][0]).amount_cents == stub.amount_due_cents


def test_the_barcode_decodes_at_150_dpi(rendered, tmp_path):
    doc, pdf = rendered["utility_bill"]
    found = symbols(page_image(pdf, 1, 150, tmp_path))
    assert found["CODE128"] == [doc.stubs[0].scan_line]


@pytest.mark.parametrize("installments", [2, 4])
def test_each_installment_stub_decodes_to_its_own_scan_line(installments, tmp_path):
    doc = documents.tax_bill(installments=installments)
    pdf = render(doc)
    by_page: dict[int, list] = {}
    for index, stub in enumerate(doc.stubs):
        by_page.setdefault(stub_page(index), []).append(stub)
    assert len(pypdf.PdfReader(io.BytesIO(pdf)).pages) == max(by_page)
    for page, stubs in by_page.items():
        found = symbols(page_image(pdf, page, 200, tmp_path))
        assert sorted(found["CODE128"]) == sorted(s.scan_line for s in stubs)
        assert found["QRCODE"] == [s.pay_url for s in stubs]
    assert len({s.scan_line for s in doc.stubs}) == installments


def test_a_long_bill_flows_onto_more_pages_with_the_stub_once_on_page_one():
    doc = documents.long_utility_bill(60)
    pdf = render(doc)
    texts = pages_text(pdf)
    assert len(texts) >= 2
    scan = printed(doc.stubs[0].scan_line)
    assert texts[0].count(scan) == 1
    assert "PAYMENT STUB" in texts[0] and "Continued on the next page" in texts[0]
    assert f"Page 1 of {len(texts)}" in texts[0]
    for text in texts[1:]:
        assert scan not in text and "PAYMENT STUB" not in text
    second = texts[1]
    assert "Charges (continued)" in second
    for heading in ("Description", "Quantity", "Unit", "Rate", "Amount"):
        assert heading in second
    assert "Service charge 60, building 5" in " ".join(texts[1:])
    assert "Total charges" in texts[-1]
    everything = " ".join(texts)
    for line in doc.lines:
        assert everything.count(line.description) == 1, line.description


def test_the_table_on_page_one_stays_above_the_stub():
    pdf = render(documents.long_utility_bill(60))
    page = pypdf.PdfReader(io.BytesIO(pdf)).pages[0]
    heights: list[float] = []

    def visit(text, cm, tm, font, size):
        if text.startswith("Service charge"):
            heights.append(tm[5] * cm[3] + cm[5])

    page.extract_text(visitor_text=visit)
    assert heights
    assert min(heights) > STUB_HEIGHT + 10


def test_a_logo_is_drawn_when_the_file_exists(tmp_path):
    logo = tmp_path / "seal.png"
    Image.new("RGB", (120, 120), (20, 70, 120)).save(logo)
    doc = documents.utility_bill()
    with_logo = replace(doc, letterhead=replace(doc.letterhead, logo_path=str(logo)))
    reader = pypdf.PdfReader(io.BytesIO(render(with_logo)))
    assert len(reader.pages[0].images) == 1
    missing = replace(doc, letterhead=replace(doc.letterhead, logo_path=str(tmp_path / "no.png")))
    assert len(pypdf.PdfReader(io.BytesIO(render(missing))).pages[0].images) == 0
