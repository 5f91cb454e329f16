"""Layout files: the shipped ones read the banks' files; a malformed one is refused naming the
place; a file that breaks its layout is refused naming the line (pure, no database)."""

from __future__ import annotations

from datetime import date

import pytest
import yaml

from payments.lockbox_layouts import (
    FOLDER,
    FileRefused,
    LayoutError,
    available,
    load_layout,
    read_file,
    read_layout,
)
from payments.scanline import scan_line
from tests.payments.lockbox_files import Check, bai, csv_lockbox, rpps

DAY = date(2026, 11, 12)
STUB = scan_line("10001238", 10784, date(2026, 11, 23))


def test_the_shipped_layouts_load():
    assert available() == ["bai-lockbox", "csv-lockbox", "rpps-billpay"]
    kinds = {name: load_layout(name).kind for name in available()}
    assert kinds == {"bai-lockbox": "lockbox", "csv-lockbox": "lockbox", "rpps-billpay": "bill_pay"}


def test_a_bai_file_is_read_with_its_batches_and_checks():
    checks = [Check(10784, STUB, "1001"), Check(2500, STUB, "1002"), Check(99, "", "1003")]
    remittance = read_file(load_layout("bai-lockbox"), bai(checks, DAY, per_batch=2))
    assert remittance.deposit_date == DAY
    assert [(i.batch, i.item, i.amount_cents, i.check_number) for i in remittance.items] == [
        ("001", "001", 10784, "1001"),
        ("001", "002", 2500, "1002"),
        ("002", "001", 99, "1003"),
    ]
    assert remittance.items[0].scan_line == STUB and remittance.items[2].scan_line is None
    assert remittance.batches == {"001": (2, 13284), "002": (1, 99)}


def test_the_csv_and_bill_pay_layouts_read_amounts_in_dollars_and_cents():
    csv_file = read_file(load_layout("csv-lockbox"), csv_lockbox([Check(10784, STUB, "7")], DAY))
    assert csv_file.items[0].amount_cents == 10784 and csv_file.items[0].payer_name == "RESIDENT"
    billpay = read_file(
        load_layout("rpps-billpay"), rpps([Check(4321, account="10001238", payer="A B")], DAY)
    )
    assert (billpay.items[0].account, billpay.items[0].amount_cents) == ("10001238", 4321)
    assert billpay.deposit_date == DAY


@pytest.mark.parametrize(
    ("change", "place"),
    [
        (lambda d: d.pop("records"), "records"),
        (lambda d: d.update(format="xml"), "format"),
        (lambda d: d["records"]["detail"]["fields"].pop("scan_line"), "detail.fields.scan_line"),
        (
            lambda d: d["records"]["detail"]["fields"]["amount"].update(start=0),
            "records.detail.fields.amount.start",
        ),
        (
            lambda d: d["records"]["detail"]["fields"]["amount"].update(type="text"),
            "records.detail.fields.amount.type",
        ),
        (
            lambda d: d["records"]["detail"]["fields"].update(colour={"start": 1, "length": 2}),
            "records.detail.fields.colour",
        ),
        (lambda d: d["records"].pop("trailer"), "records.trailer"),
        (lambda d: d["records"]["batch_total"].update(code="6"), "share a code"),
        (
            lambda d: d["records"]["batch_header"]["fields"]["deposit_date"].pop("format"),
            "deposit_date.format",
        ),
        (lambda d: d["records"].update(footer={"code": "X"}), "records.footer"),
    ],
)
def test_a_malformed_layout_is_refused_naming_the_place(change, place):
    document = yaml.safe_load((FOLDER / "bai-lockbox.yaml").read_text())
    change(document)
    with pytest.raises(LayoutError, match=place.replace(".", r"\.")) as refused:
        read_layout(yaml.safe_dump(document), "mybank.yaml")
    assert "layout mybank.yaml" in str(refused.value)


def test_a_layout_that_is_not_yaml_or_not_there_is_refused():
    with pytest.raises(LayoutError, match="not YAML"):
        read_layout("records: [", "broken.yaml")
    with pytest.raises(LayoutError, match="no layout 'lost'"):
        load_layout("lost")
    with pytest.raises(LayoutError, match="letters, digits and dashes"):
        load_layout("../etc/passwd")


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda lines: lines[:3] + ["6001002000000ZZ99"] + lines[3:], "line 4 .*amount"),
        (lambda lines: lines + ["6001003000000010"], "after the file's trailer"),
        (lambda lines: lines[1:], "does not start with its header"),
        (lambda lines: lines[:2] + ["X bogus"] + lines[2:], "record type 'X'"),
        (lambda lines: [line for line in lines if not line.startswith("7")], "no total record"),
    ],
)
def test_a_file_that_breaks_its_layout_is_refused_naming_the_line(edit, message):
    lines = bai([Check(10784, STUB, "1001")], DAY).decode().splitlines()
    with pytest.raises(FileRefused, match=message):
        read_file(load_layout("bai-lockbox"), ("\n".join(edit(lines)) + "\n").encode())


def test_a_zero_check_or_a_file_that_is_not_text_is_refused():
    with pytest.raises(FileRefused, match="not greater than zero"):
        read_file(load_layout("bai-lockbox"), bai([Check(0, STUB, "1")], DAY))
    with pytest.raises(FileRefused, match="not plain text"):
        read_file(load_layout("bai-lockbox"), b"1\xff\xfe")
    with pytest.raises(FileRefused, match="truncated"):
        read_file(load_layout("csv-lockbox"), b"")
