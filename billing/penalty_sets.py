"""Penalty rule sets: a named set of rules with dated versions and a scope (docs/penalties.md).

Pure module. A set document (format version 2) names the set (`code`), the invoices it
covers (`scope`) and its versions, each with the date it takes effect and the rules of
billing.penalty_format. A rules document of format version 1 (the single rules file of
earlier releases) is read as the set `town`: one version in force from the beginning,
covering every invoice. Errors raise RuleError naming the place (`versions[1].effective_from`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, NoReturn

from billing.computed import RuleError
from billing.penalties import InvoiceFacts, PenaltyCharge, owed_as_of
from billing.penalty_format import (
    INVOICE_KINDS,
    PenaltyRule,
    parse_penalty_rules,
    rules_text_warnings,
    rules_to_document,
)
from billing.working_days import FEDERAL, WorkingCalendar
from core.money import DEFAULT_ROUNDING

SET_FORMAT_VERSION = 2
#: The code of the set a format-1 rules file becomes.
TOWN_SET = "town"
#: Which invoices a version charges: those whose delinquency begins once it is in force, or
#: also those already delinquent, for the periods from its effective date on.
VERSION_REACH = ("new_delinquencies", "all_open")
_CODE_RE = re.compile(r"[a-z0-9][a-z0-9_.-]{0,39}")
_SCOPE_KEYS = ("invoice_kinds", "service_kinds", "tax_jurisdictions", "tax_years")


@dataclass(frozen=True)
class SetScope:
    """The invoices a set covers; an empty list means every value."""

    invoice_kinds: tuple[str, ...] = ()
    #: Every service billed on the invoice must be one of these (ServiceKind codes).
    service_kinds: tuple[str, ...] = ()
    #: Every jurisdiction taxing on the invoice must be one of these (TaxingJurisdiction codes).
    tax_jurisdictions: tuple[str, ...] = ()
    tax_years: tuple[int, ...] = ()

    def kinds(self) -> set[str]:
        """The invoice kinds the scope can match: services mean utility, tax fields mean tax."""
        kinds = set(self.invoice_kinds or INVOICE_KINDS)
        if self.service_kinds:
            kinds &= {"utility"}
        if self.tax_jurisdictions or self.tax_years:
            kinds &= {"tax"}
        return kinds

    def overlaps(self, other: SetScope) -> bool:
        """Whether one invoice could be covered by both scopes."""
        if not self.kinds() & other.kinds():
            return False
        return all(
            not mine or not theirs or set(mine) & set(theirs)
            for mine, theirs in (
                (self.service_kinds, other.service_kinds),
                (self.tax_jurisdictions, other.tax_jurisdictions),
                (self.tax_years, other.tax_years),
            )
        )


@dataclass(frozen=True)
class InvoiceScope:
    """What a set's scope is matched against: facts of one posted invoice."""

    kind: str
    service_kinds: frozenset[str] = frozenset()
    tax_jurisdictions: frozenset[str] = frozenset()
    tax_year: int | None = None

    def covered_by(self, scope: SetScope) -> bool:
        """Whether the scope covers this invoice."""
        if self.kind not in scope.kinds():
            return False
        if scope.service_kinds and not (
            self.service_kinds and self.service_kinds <= set(scope.service_kinds)
        ):
            return False
        if scope.tax_jurisdictions and not (
            self.tax_jurisdictions and self.tax_jurisdictions <= set(scope.tax_jurisdictions)
        ):
            return False
        return not scope.tax_years or self.tax_year in scope.tax_years

    def describe(self) -> str:
        """The invoice's scope in words, for a clerk: 'utility (sewer, water)'."""
        parts = sorted(self.service_kinds | self.tax_jurisdictions)
        year = [] if self.tax_year is None else [f"tax year {self.tax_year}"]
        detail = ", ".join(parts + year)
        return f"{self.kind} ({detail})" if detail else self.kind


@dataclass(frozen=True)
class SetVersion:
    """The rules of a set from one date on."""

    #: None: in force from the beginning (a format-1 rules file).
    effective_from: date | None
    reach: str
    rules: tuple[PenaltyRule, ...]


@dataclass(frozen=True)
class PenaltySet:
    """A named set of penalty rules with its scope and dated versions, oldest first."""

    code: str
    name: str
    scope: SetScope
    versions: tuple[SetVersion, ...]

    def segments(self, delinquent_from: date) -> list[tuple[SetVersion, date | None, date | None]]:
        """(version, from, until) charging an invoice whose delinquency begins on the day.

        The version in force on that day charges it; a later version charges it only if it
        reaches all open invoices, and then only from its effective date on.
        """
        segments: list[tuple[SetVersion, date | None, date | None]] = []
        for version in self.versions:
            begins = version.effective_from
            if begins is None or begins <= delinquent_from:
                segments = [(version, None, None)]
            elif version.reach == "all_open":
                if segments:
                    segments[-1] = (segments[-1][0], segments[-1][1], begins)
                segments.append((version, begins, None))
        return segments


def owed_by_set(
    rule_set: PenaltySet,
    invoice: InvoiceFacts,
    as_of: date,
    rounding: str = DEFAULT_ROUNDING,
    calendar: WorkingCalendar = FEDERAL,
) -> list[PenaltyCharge]:
    """Every charge the set makes on the invoice up to as_of, each by the version that applies.

    The version in force on the day after the due date charges the invoice; a later version
    that reaches all open invoices charges the periods (and days) from its effective date on.
    """
    made: list[PenaltyCharge] = []
    for version, start, until in rule_set.segments(invoice.due_date + timedelta(days=1)):
        made += owed_as_of(
            version.rules,
            invoice,
            as_of,
            rounding,
            calendar=calendar,
            window=(start, until),
            prior=made,
        )
    return made


def parse_penalty_set(document: Any) -> PenaltySet:
    """Validate a set document (format 2) or a single rules document (format 1)."""
    if not isinstance(document, Mapping):
        raise RuleError("document: must be a mapping of names to values")
    if document.get("version") == 1 and not isinstance(document.get("version"), bool):
        rules = parse_penalty_rules(document)
        return PenaltySet(TOWN_SET, "Penalty and interest rules", SetScope(), (_legacy(rules),))
    allowed = {"version", "code", "name", "scope", "versions"}
    _keys(document, allowed, allowed - {"name"}, "document")
    if document["version"] != SET_FORMAT_VERSION or isinstance(document["version"], bool):
        _fail("version", f"must be 1 (one set of rules) or {SET_FORMAT_VERSION} (a rule set)")
    code = document["code"]
    if not isinstance(code, str) or not _CODE_RE.fullmatch(code):
        _fail("code", "use 1-40 lowercase letters, digits, '-', '_' or '.'")
    name = document.get("name", code)
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        _fail("name", "must be a non-empty line of text (at most 200 characters)")
    scope = _parse_scope(document["scope"])
    return PenaltySet(code, name.strip(), scope, _parse_versions(document["versions"]))


def _legacy(rules: tuple[PenaltyRule, ...]) -> SetVersion:
    """The one version of a format-1 rules file: in force from the beginning."""
    return SetVersion(None, "new_delinquencies", rules)


def _parse_scope(value: Any) -> SetScope:
    """The scope: lists of invoice kinds, services, jurisdictions and tax years (empty: all)."""
    if not isinstance(value, Mapping):
        _fail("scope", "must be a mapping of invoice_kinds, service_kinds, tax_jurisdictions, ...")
    _keys(value, set(_SCOPE_KEYS), set(), "scope")
    lists = {}
    for key in _SCOPE_KEYS:
        items = value.get(key, [])
        if not isinstance(items, list):
            _fail(f"scope.{key}", "must be a list (empty for all)")
        for index, item in enumerate(items):
            _scope_item(key, item, f"scope.{key}[{index}]")
        if len(set(items)) != len(items):
            _fail(f"scope.{key}", "lists a value twice")
        lists[key] = tuple(sorted(items))
    scope = SetScope(**lists)
    if not scope.kinds():
        _fail(
            "scope", "service_kinds (utility bills) and tax fields (tax bills) exclude each other"
        )
    return scope


def _scope_item(key: str, item: Any, place: str) -> None:
    """One value of a scope list."""
    if key == "tax_years":
        if isinstance(item, bool) or not isinstance(item, int) or not 1900 <= item <= 2200:
            _fail(place, "must be a year from 1900 to 2200")
    elif key == "invoice_kinds":
        if item not in INVOICE_KINDS:
            _fail(place, f"must be one of {', '.join(INVOICE_KINDS)} (got {item!r})")
    elif not isinstance(item, str) or not item.strip() or len(item) > 40:
        _fail(place, "must be a code (at most 40 characters)")


def _parse_versions(value: Any) -> tuple[SetVersion, ...]:
    """The versions: each with its effective date, reach and rules; two on one date refused."""
    if not isinstance(value, list) or not value:
        _fail("versions", "must be a non-empty list of {effective_from, rules}")
    versions: list[SetVersion] = []
    seen: dict[date, int] = {}
    for index, item in enumerate(value):
        place = f"versions[{index}]"
        if not isinstance(item, Mapping):
            _fail(place, "must be a mapping with effective_from and rules")
        _keys(item, {"effective_from", "reach", "rules"}, {"effective_from", "rules"}, place)
        effective = _date(item["effective_from"], f"{place}.effective_from")
        if effective in seen:
            _fail(
                f"{place}.effective_from",
                f"{effective.isoformat()} is also versions[{seen[effective]}]'s: one version a day",
            )
        seen[effective] = index
        reach = item.get("reach", "new_delinquencies")
        if reach not in VERSION_REACH:
            _fail(f"{place}.reach", f"must be one of {', '.join(VERSION_REACH)} (got {reach!r})")
        try:
            rules = parse_penalty_rules({"version": 1, "rules": item["rules"]})
        except RuleError as error:
            raise RuleError(f"{place}.{error}") from None
        versions.append(SetVersion(effective, reach, rules))
    return tuple(sorted(versions, key=lambda version: version.effective_from))


def _date(value: Any, place: str) -> date:
    """A date written YYYY-MM-DD (YAML reads it as a date already)."""
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    elif isinstance(value, date) and not isinstance(value, datetime):
        return value
    _fail(place, f"{value!r} is not a date (YYYY-MM-DD)")


def set_to_document(rule_set: PenaltySet) -> dict:
    """The canonical JSON-able document: format 1 for a legacy `town` set, else format 2."""
    first = rule_set.versions[0]
    if len(rule_set.versions) == 1 and first.effective_from is None:
        return rules_to_document(first.rules)
    scope = rule_set.scope
    return {
        "version": SET_FORMAT_VERSION,
        "code": rule_set.code,
        "name": rule_set.name,
        "scope": {key: list(getattr(scope, key)) for key in _SCOPE_KEYS},
        "versions": [
            {
                "effective_from": version.effective_from.isoformat(),
                "reach": version.reach,
                "rules": rules_to_document(version.rules)["rules"],
            }
            for version in rule_set.versions
        ],
    }


def set_text_warnings(rule_set: PenaltySet, languages: tuple[str, ...]) -> list[str]:
    """A warning for each rule description with no wording in one of the town's languages."""
    if rule_set.versions[0].effective_from is None:
        return rules_text_warnings(rule_set.versions[0].rules, languages)
    warnings = []
    for index, version in enumerate(rule_set.versions):
        found = rules_text_warnings(version.rules, languages)
        warnings += [f"versions[{index}].{warning}" for warning in found]
    return warnings


def check_no_overlap(rule_set: PenaltySet, others: Sequence[PenaltySet]) -> None:
    """Refuse a set whose scope could cover an invoice that another set covers; name both."""
    for other in others:
        if other.code != rule_set.code and rule_set.scope.overlaps(other.scope):
            _fail(
                "scope",
                f"set {rule_set.code!r} and set {other.code!r} could both cover one invoice; "
                "narrow one scope (invoice_kinds, service_kinds, tax_jurisdictions, tax_years)",
            )


def _keys(value: Mapping, allowed: set, required: set, place: str) -> None:
    """Refuse unknown and missing keys."""
    unknown = sorted(set(value) - allowed)
    if unknown:
        where = unknown[0] if place == "document" else f"{place}.{unknown[0]}"
        _fail(where, f"unknown field (allowed: {', '.join(sorted(allowed))})")
    missing = sorted(required - set(value))
    if missing:
        _fail(place, f"missing {missing[0]}")


def _fail(place: str, message: str) -> NoReturn:
    """Raise the RuleError for one place in the document."""
    raise RuleError(f"{place}: {message}")
