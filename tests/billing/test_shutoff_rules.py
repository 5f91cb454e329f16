"""The shutoff rules as data: a document validated in full (bad ones refused naming the place),
stored as versions, and the earliest shutoff reckoned in business days off the days with no
shutoffs: weekends, holidays, the town's closed days and moratoria."""

from datetime import date

import pytest

from billing.computed import RuleError
from billing.models import ShutoffRule
from billing.shutoff_rules import (
    OPTIONAL,
    earliest_shutoff,
    load_shutoff_rule,
    no_shutoff_because,
    parse_shutoff_rule,
    rule_to_document,
    shutoff_rule_on,
)
from billing.working_days import WorkingCalendar
from core.audit import Actor
from core.extensions import db
from core.models import AuditEvent

FEDERAL = WorkingCalendar("")
WISCONSIN = WorkingCalendar("WI")
RULE = {
    "effective": "2026-01-01",
    "min_past_due": "50.00",
    "min_days_past_due": 60,
    "notice_lead_days": 7,
    "moratoria": [{"name": "Winter freeze", "starts": "2027-01-01", "ends": "2027-01-10"}],
}
CLERK = Actor("user", "1", "clerk@example.org", "127.0.0.1")


def test_a_rule_document_reads_to_its_fields_and_back():
    fields = parse_shutoff_rule(RULE)
    assert fields["min_past_due_cents"] == 5000
    assert fields["min_days_past_due"] == 60
    assert fields["notice_lead_days"] == 7
    assert fields["effective"] == date(2026, 1, 1)
    # The optional keys read back with their defaults: appeals and tenants' protections, a
    # 48-hour door hanger, no reconnection fee.
    assert (fields["final_notice_hours"], fields["reconnection_fee_cents"]) == (48, 0)
    assert rule_to_document(ShutoffRule(**fields)) == RULE | OPTIONAL | {
        "final_notice_hours": 48,
        "reconnection_fee": "0.00",
    }
    field = RULE | {"final_notice_hours": 72, "reconnection_fee": "1250.00"}
    assert rule_to_document(ShutoffRule(**parse_shutoff_rule(field))) == field | OPTIONAL


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"min_past_due": "-5.00"}, "min_past_due: must not be negative"),
        ({"min_past_due": 50.0}, "min_past_due: write dollars as a quoted string"),
        ({"notice_lead_days": -1}, "notice_lead_days: must not be negative"),
        ({"min_days_past_due": -30}, "min_days_past_due: must not be negative"),
        ({"notice_lead_days": 61}, "notice_lead_days: must be at most 60"),
        ({"effective": "someday"}, "effective: must be a date"),
        ({"shutoff_fee": "25.00"}, "shutoff_fee: unknown key"),
        ({"final_notice_hours": -48}, "final_notice_hours: must not be negative"),
        ({"reconnection_fee": "-35.00"}, "reconnection_fee: must not be negative"),
        (
            {"moratoria": [{"name": "Heat", "starts": "2027-07-10", "ends": "2027-07-01"}]},
            "moratoria[0].ends: 2027-07-01 is before its start 2027-07-10",
        ),
    ],
)
def test_a_bad_rule_is_refused_naming_the_place(change, reason):
    with pytest.raises(RuleError, match=reason.replace("[", r"\[").replace("]", r"\]")):
        parse_shutoff_rule(RULE | change)


def test_a_missing_field_is_refused():
    document = dict(RULE)
    del document["notice_lead_days"]
    with pytest.raises(RuleError, match="notice_lead_days: is required"):
        parse_shutoff_rule(document)


def test_loaded_versions_apply_from_their_effective_day_and_are_audited(ctx):
    first = load_shutoff_rule(db.session, CLERK, RULE)
    later = load_shutoff_rule(db.session, CLERK, RULE | {"effective": "2027-03-01"})
    assert shutoff_rule_on(db.session, date(2025, 12, 31)) is None
    assert shutoff_rule_on(db.session, date(2027, 2, 28)).id == first.id
    assert shutoff_rule_on(db.session, date(2027, 3, 1)).id == later.id
    assert db.session.query(AuditEvent).filter_by(action="shutoff_rule.load").count() == 2


def test_the_lead_time_counts_business_days_across_a_weekend():
    # Friday December 4, 2026: Monday, Tuesday, Wednesday.
    assert earliest_shutoff(WISCONSIN, [], date(2026, 12, 4), 3) == date(2026, 12, 9)


def test_the_lead_time_counts_business_days_across_a_holiday_and_a_weekend():
    # Thursday December 24: Christmas Day (Friday) and the weekend do not count.
    assert earliest_shutoff(FEDERAL, [], date(2026, 12, 24), 3) == date(2026, 12, 30)
    # Seven business days also skip New Year's Day.
    assert earliest_shutoff(FEDERAL, [], date(2026, 12, 24), 7) == date(2027, 1, 6)
    # Wisconsin also closes on New Year's Eve: one day later.
    assert earliest_shutoff(WISCONSIN, [], date(2026, 12, 24), 7) == date(2027, 1, 7)


def test_the_towns_closed_day_is_not_a_business_day():
    town = WorkingCalendar("", {date(2026, 12, 29): "Town meeting day"})
    assert earliest_shutoff(town, [], date(2026, 12, 24), 3) == date(2026, 12, 31)


def test_a_moratorium_moves_the_shutoff_to_its_first_day_after():
    moratoria = RULE["moratoria"]
    # Seven business days from December 24 end on January 6, inside the freeze: moved to
    # Monday January 11 (the freeze ends Sunday the 10th).
    assert earliest_shutoff(FEDERAL, moratoria, date(2026, 12, 24), 7) == date(2027, 1, 11)
    assert no_shutoff_because(FEDERAL, moratoria, date(2027, 1, 6)) == "Winter freeze"
    assert no_shutoff_because(FEDERAL, moratoria, date(2027, 1, 11)) is None


def test_days_with_no_shutoffs_say_why():
    assert no_shutoff_because(WISCONSIN, [], date(2026, 12, 26)) == "Saturday"
    assert no_shutoff_because(WISCONSIN, [], date(2026, 12, 25)) == "Christmas Day"
    assert no_shutoff_because(WISCONSIN, [], date(2026, 12, 28)) is None
