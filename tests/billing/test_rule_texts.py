"""Texts in the rules files are in every language the town writes in; a missing one warns."""

import json
from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa
import yaml

from accounts.models import Language
from billing.computed import RuleError
from billing.levy_format import parse_levy
from billing.levy_spec import levy_to_document
from billing.models import PenaltyRuleSet
from billing.penalties import InvoiceFacts, owed_as_of
from billing.penalty_format import parse_penalty_rules, rules_to_document
from billing.rate_plan_format import parse_rate_plan, plan_to_document
from billing.rating import rate_bill
from billing.rules import town_languages
from billing.tax import compute_parcel_tax
from billing.words import LANGUAGES, WORDS
from core.extensions import db
from tests.billing.billing_fixtures import RULES


def _plan(**changes) -> dict:
    """A small water plan in two languages."""
    plan = {
        "code": "T-WATER",
        "name": {"en": "Test water", "es": "Agua de prueba"},
        "service_kind": "water",
        "unit": "1,000 gallons",
        "versions": [
            {
                "effective_from": "2026-01-01",
                "frequency": "monthly",
                "components": [
                    {
                        "id": "base",
                        "kind": "fixed",
                        "description": {"en": "Water base charge", "es": "Cargo fijo de agua"},
                        "by_meter_size": {'5/8"': "11.95"},
                    },
                    {"id": "included", "kind": "allowance", "included": 2},
                    {
                        "id": "usage",
                        "kind": "blocks",
                        "description": {"en": "Water usage", "es": "Consumo de agua"},
                        "blocks": [{"up_to": 10, "rate": "4.4400"}, {"rate": "6.35"}],
                    },
                    {
                        "id": "minimum",
                        "kind": "minimum",
                        "description": {"en": "Water minimum", "es": "Mínimo de agua"},
                        "amount": "40.00",
                    },
                ],
            }
        ],
    }
    plan.update(changes)
    return plan


def _bill(spec, usage: Decimal, unit: str) -> list:
    """The lines of a January 2026 bill of a 5/8" meter."""
    return rate_bill(
        spec,
        period_end=date(2026, 1, 31),
        usage=usage,
        usage_unit=unit,
        meter_size='5/8"',
        dwelling_units=1,
    )


def test_the_notices_languages_are_the_accounts_languages():
    assert LANGUAGES == tuple(language.value for language in Language) == town_languages()
    assert WORDS["en"].keys() == WORDS["es"].keys()


def test_a_rate_plan_bills_each_line_in_each_language():
    spec = parse_rate_plan(_plan())
    lines = _bill(spec, Decimal(12500), "gallons")
    assert [(line.descriptions["es"], line.units.get("es")) for line in lines] == [
        ('Cargo fijo de agua, medidor de 5/8"', "mes"),
        ("Incluido en el cargo fijo (primeros 2 kgal)", "1,000 galones"),
        ("Consumo de agua (2–10 kgal)", "1,000 galones"),
        ("Consumo de agua (más de 10 kgal)", "1,000 galones"),
    ]
    assert [line.description for line in lines][0] == 'Water base charge, 5/8" meter'
    assert all(line.descriptions["en"] == line.description for line in lines)
    assert all(line.units.get("en") == line.unit for line in lines if line.unit)
    little = _bill(spec, Decimal(0), "gallons")
    assert little[-1].descriptions == {
        "en": "Water minimum ($40.00)",
        "es": "Mínimo de agua ($40.00)",
    }


def test_a_plain_string_is_the_default_language_and_the_plan_reads_back_equal():
    plain = _plan(name="Test water")
    spec = parse_rate_plan(plain)
    assert spec.name == "Test water" and spec.name_translations == ()
    document = plan_to_document(parse_rate_plan(_plan()))
    assert document["name"] == {"en": "Test water", "es": "Agua de prueba"}
    assert parse_rate_plan(json.loads(json.dumps(document))) == parse_rate_plan(_plan())


def test_a_plan_may_name_its_unit_in_each_language():
    spec = parse_rate_plan(_plan(unit={"en": "HCF", "es": "100 pies cúbicos"}))
    assert spec.unit == "hcf"
    line = _bill(spec, Decimal(5), "HCF")[2]
    assert (line.unit, line.units["es"]) == ("HCF", "100 pies cúbicos")


@pytest.mark.parametrize(
    ("where", "value", "message"),
    [
        ("components", {"en": "Water usage", "es": 7}, "versions[0].components[2].description.es"),
        ("components", {"en": "Water usage", "fr": "Eau"}, "description.fr: 'fr' is not"),
        ("components", {"es": "Consumo de agua"}, "description: give the text in 'en'"),
        ("components", {"en": "Water usage", "es": " "}, "description.es: must be a non-empty"),
        ("name", {"en": "Test water", "es": ["Agua"]}, "name.es: must be a non-empty string"),
    ],
)
def test_a_text_that_is_not_a_string_is_refused_naming_the_place(where, value, message):
    plan = _plan()
    if where == "name":
        plan["name"] = value
    else:
        plan["versions"][0]["components"][2]["description"] = value
    with pytest.raises(RuleError, match=message.replace("(", r"\(").replace("[", r"\[")):
        parse_rate_plan(plan)


def test_levy_names_are_printed_in_each_language():
    document = yaml.safe_load((RULES / "levy.yaml").read_text())
    spec = parse_levy(document)
    assert parse_levy(json.loads(json.dumps(levy_to_document(spec), default=str))) == spec
    bill = compute_parcel_tax(
        spec,
        market_value_cents=None,
        assessed_value_cents=20_000_000,
        property_class="residential",
        exemption_flags=[],
    )
    first = bill.lines[0]
    assert first.descriptions == {"en": "Lakeshore County", "es": "Condado de Lakeshore"}
    assert first.units == {"en": "per $1,000 of value", "es": "por $1,000 de valor"}
    document["levies"][0]["name"] = {"en": "Lakeshore County", "es": 5}
    with pytest.raises(RuleError, match=r"levies\[0\]\.name\.es"):
        parse_levy(document)


def test_penalty_descriptions_are_written_in_each_language():
    rules = parse_penalty_rules(yaml.safe_load((RULES / "penalties.yaml").read_text()))
    assert parse_penalty_rules(rules_to_document(rules)) == rules
    tax = InvoiceFacts("tax", date(2027, 1, 31), {"tax": 312055}, [(date(2026, 12, 1), 312055)])
    charges = owed_as_of(rules, tax, date(2027, 3, 1))
    assert [c.descriptions["es"] for c in charges][:2] == [
        "Intereses sobre impuestos morosos (Wis. Stat. 74.47(1)), febrero de 2027: 1% de "
        "$3,120.55 pendientes (redondeado con los meses anteriores)",
        "Recargo sobre impuestos morosos (Wis. Stat. 74.47(2)), febrero de 2027: 0.5% de "
        "$3,120.55 pendientes (redondeado con los meses anteriores)",
    ]
    utility = InvoiceFacts(
        "utility", date(2027, 1, 31), {"charge": 5000}, [(date(2027, 1, 1), 5000)]
    )
    (late,) = owed_as_of(rules, utility, date(2027, 3, 1))
    assert late.descriptions == {
        "en": "Late payment charge: 1% of $50.00 unpaid (minimum charge)",
        "es": "Recargo por pago tardío: 1% de $50.00 pendientes (cargo mínimo)",
    }


def test_a_rule_without_a_description_gets_the_default_one_in_every_language():
    (rule,) = parse_penalty_rules(
        {
            "version": 1,
            "rules": [
                {
                    "id": "late",
                    "type": "one_time",
                    "applies_to": {"invoice_kinds": ["utility"], "categories": ["charge"]},
                    "flat": "5.00",
                }
            ],
        }
    )
    assert (rule.description, dict(rule.description_translations)) == (
        "Late payment penalty",
        {"es": "Recargo por pago tardío"},
    )


def _english_only(name: str) -> dict:
    """A demo rules file with every text in English only (plain strings)."""

    def plain(value):
        if isinstance(value, dict):
            if set(value) <= {"en", "es"} and "en" in value:
                return value["en"]
            return {key: plain(item) for key, item in value.items()}
        if isinstance(value, list):
            return [plain(item) for item in value]
        return value

    return json.loads(json.dumps(plain(yaml.safe_load((RULES / name).read_text())), default=str))


def test_the_import_warns_of_a_missing_language_and_still_loads(
    app, client, api_headers, runner, tmp_path
):
    headers = api_headers("clerk")
    answer = client.post("/api/v1/rate-plans", json=_english_only("water.yaml"), headers=headers)
    assert answer.status_code == 200
    assert answer.get_json()["warnings"] == [
        "name: no text in 'es'; the 'en' text is shown instead",
        *(
            f"versions[{day}].components[{part}].description: no text in 'es'; the 'en' text "
            "is shown instead"
            for day in ("2025-01-01", "2026-07-01")
            for part in ("service", "usage", "state_fee")
        ),
    ]
    answer = client.post("/api/v1/levies", json=_english_only("levy.yaml"), headers=headers)
    assert answer.status_code == 200
    assert "levies[4].name: no text in 'es'" in answer.get_json()["warnings"][-1]
    bilingual = client.post(
        "/api/v1/penalty-rules",
        json=json.loads(json.dumps(yaml.safe_load((RULES / "penalties.yaml").read_text()))),
        headers=headers,
    )
    assert bilingual.status_code == 200 and bilingual.get_json()["warnings"] == []
    path = tmp_path / "penalties-en.json"
    path.write_text(json.dumps(_english_only("penalties.yaml")))
    result = runner.invoke(args=["penalties", "import", str(path)])
    assert result.exit_code == 0, result.output
    assert "warning: rules[2].description: no text in 'es'" in result.output
    assert result.output.rstrip().endswith("penalty rules loaded.")
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(PenaltyRuleSet)) == 2
