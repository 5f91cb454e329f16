"""A line's figures are printed as the tariff writes them, and its arithmetic checks by hand."""

from decimal import Decimal

import pytest

from billing.figures import line_figures, plain
from billing.invoices import rate_places

D = Decimal


@pytest.mark.parametrize(
    ("number", "places", "printed"),
    [
        # Stored rates carry 8 places; the rules' own places are what is printed.
        (D("11.95000000"), 2, "11.95"),
        (D("4.44000000"), 4, "4.4400"),
        (D("5.21400000"), 4, "5.2140"),
        (D("21.00000000"), 0, "21"),
        (D("0.17769382"), 8, "0.17769382"),
        # Never more places than stored, whatever is asked.
        (D("4.44"), 4, "4.44"),
        # Places not kept (lines posted before they were): trailing zeros trimmed.
        (D("11.95000000"), None, "11.95"),
        (D("0E-8"), None, "0"),
        # Quantities: exact, grouped, never in exponent form.
        (D("1.0000"), None, "1"),
        (D("4.5000"), None, "4.5"),
        (D("12000.0000"), None, "12,000"),
        (D("1E+2"), None, "100"),
        (D("620000"), None, "620,000"),
    ],
)
def test_numbers_are_printed_with_the_places_the_rules_wrote(number, places, printed):
    assert plain(number, places) == printed


@pytest.mark.parametrize(
    ("written", "places"), [("11.95", 2), ("4.4400", 4), ("21", 0), ("0.17769382", 8)]
)
def test_a_rate_keeps_the_places_it_was_written_with(written, places):
    assert rate_places(D(written)) == places
    assert rate_places(None) is None


@pytest.mark.parametrize(
    ("quantity", "rate", "unit", "places", "language", "columns", "text"),
    [
        (
            D("4.5000"),
            D("4.09000000"),
            "1,000 gallons",
            2,
            "en",
            ("4.5", "1,000 gallons", "$4.09"),
            "4.5 × $4.09 per 1,000 gallons",
        ),
        (
            D("1.0000"),
            D("11.95000000"),
            "month",
            2,
            "en",
            ("1", "month", "$11.95"),
            "1 × $11.95 per month",
        ),
        (
            D("4.0000"),
            D("7.00000000"),
            "dwelling unit",
            0,
            "en",
            ("4", "dwelling unit", "$7"),
            "4 × $7 per dwelling unit",
        ),
        (
            D("148822.2500"),
            D("5.21400000"),
            "per $1,000 of value",
            3,
            "en",
            ("$148,822.25", "taxable value", "5.214 mills"),
            "taxable value $148,822.25 × 5.214 mills",
        ),
        (
            D("1193000.0000"),
            D("0.17769382"),
            "% of value",
            8,
            "en",
            ("$1,193,000.00", "taxable value", "0.17769382%"),
            "taxable value $1,193,000.00 × 0.17769382%",
        ),
        (
            D("400000.0000"),
            D("0.31823900"),
            "per $100 of value",
            6,
            "en",
            ("4,000", "$100 of value", "$0.318239"),
            "4,000 × $0.318239 per $100 of value",
        ),
        (
            D("148822.2500"),
            D("5.21400000"),
            "per $1,000 of value",
            4,
            "es",
            ("$148,822.25", "valor imponible", "5.2140 por mil"),
            "valor imponible $148,822.25 × 5.2140 por mil",
        ),
        (
            D("15000.0000"),
            D("0.31823900"),
            "per $100 of value",
            6,
            "es",
            ("150", "$100 de valor", "$0.318239"),
            "150 × $0.318239 por $100 de valor",
        ),
    ],
)
def test_a_line_reads_as_the_tariff_prints_it(
    quantity, rate, unit, places, language, columns, text
):
    figures = line_figures(quantity, rate, unit=unit, rate_places=places, language=language)
    assert (figures.quantity, figures.unit, figures.rate) == columns
    assert figures.text == text
    assert "per per" not in figures.text


def test_a_line_is_worded_in_its_own_unit_of_the_language():
    figures = line_figures(
        D("2"), D("4.44"), unit="1,000 gallons", unit_words="1,000 galones", language="es"
    )
    assert figures.text == "2 × $4.44 por 1,000 galones"


def test_a_line_without_quantity_or_rate_has_no_figures():
    assert line_figures(None, D("1"), unit=None) is None
    assert line_figures(D("1"), None, unit="month") is None


@pytest.mark.parametrize(
    ("quantity", "rate", "unit", "amount"),
    [
        (D("148822.25"), D("5.214"), "per $1,000 of value", D("775.9592115")),
        (D("400000"), D("0.318239"), "per $100 of value", D("1272.956")),
        (D("1193000"), D("0.17769382"), "% of value", D("2119.8872726")),
        (D("4.5"), D("4.09"), "1,000 gallons", D("18.405")),
    ],
)
def test_the_printed_quantity_times_the_printed_rate_is_the_amount(quantity, rate, unit, amount):
    figures = line_figures(quantity, rate, unit=unit)
    assert printed_product(figures.quantity, figures.rate) == amount


def printed_product(quantity: str, rate: str) -> Decimal:
    """What a resident computes from the printed figures: mills are thousandths, % hundredths."""
    scale = D(1)
    if rate.endswith(" mills"):
        rate, scale = rate.removesuffix(" mills"), D("0.001")
    elif rate.endswith("%"):
        rate, scale = rate.removesuffix("%"), D("0.01")

    def value(text: str) -> Decimal:
        return D(text.replace("$", "").replace(",", ""))

    return value(quantity) * value(rate) * scale
