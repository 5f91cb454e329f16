"""Checks that a version's components agree with each other, beyond each one's own fields.

Pure module, called by billing.rate_plan_format while it parses a version. Each refusal is a
RuleError naming the place, e.g. ``versions[0].components[3].applies_to: ...``.
"""

from __future__ import annotations

from billing.computed import RuleError
from billing.rate_plan_spec import (
    USAGE_CHARGES,
    ChoiceCharge,
    Component,
    FixedCharge,
    MaximumCharge,
    MinimumCharge,
    PerUnitCharge,
)
from core.money import format_cents


def check_seasons(components: tuple[Component, ...], where: str) -> None:
    """An id is used once, or by seasonal components whose months do not overlap."""
    seen: dict[str, int] = {}
    for index, component in enumerate(components):
        if component.id not in seen:
            seen[component.id] = index
            continue
        first = components[seen[component.id]]
        here = f"{where}[{index}]"
        if not first.months or not component.months:
            raise RuleError(f"{here}.id: {component.id!r} is used twice")
        for other in components[:index]:
            both = sorted(set(other.months) & set(component.months))
            if other.id == component.id and both:
                raise RuleError(
                    f"{here}.months: {component.id!r} is already billed in month(s) "
                    f"{', '.join(map(str, both))} by {where}[{components.index(other)}]"
                )


def check_choices(
    components: tuple[Component, ...], kinds: dict[str, Component], where: str
) -> dict[str, str]:
    """Each greater_of/lesser_of compares charges that exist; {member id: its chooser's id}."""
    members: dict[str, str] = {}
    comparable = (FixedCharge, *USAGE_CHARGES, PerUnitCharge)
    for index, choice in enumerate(components):
        if not isinstance(choice, ChoiceCharge):
            continue
        for name in choice.of:
            here = f"{where}[{index}].of"
            if name not in kinds:
                raise RuleError(f"{here}: no component has the id {name!r}")
            if not isinstance(kinds[name], comparable):
                raise RuleError(f"{here}: {name!r} is not a charge that can be compared")
            if name in members:
                raise RuleError(f"{here}: {name!r} is already compared by {members[name]!r}")
            members[name] = choice.id
    return members


def check_limits_agree(components: tuple[Component, ...], where: str) -> None:
    """A minimum and a maximum never contradict: no bill may fall as usage rises."""
    usage_ids = {c.id for c in components if isinstance(c, USAGE_CHARGES)}
    for index, floor in enumerate(components):
        if not isinstance(floor, MinimumCharge):
            continue
        floored = set(floor.applies_to) or {
            c.id for c in components if not isinstance(c, MinimumCharge)
        }
        for cap in components:
            if isinstance(cap, MaximumCharge):
                capped = set(cap.applies_to) or usage_ids
                _check_pair(floor, floored, cap, capped, f"{where}[{index}]")


def _check_pair(
    floor: MinimumCharge, floored: set[str], cap: MaximumCharge, capped: set[str], where: str
) -> None:
    """One minimum against one maximum."""
    shared = sorted(floored & capped)
    if shared and cap.id not in floored:
        # NOTE: maximums apply first; a minimum that counts capped charges without the cap's
        # reduction tops up what the cap held down, so more water could cost less.
        raise RuleError(
            f"{where}.applies_to: counts {', '.join(map(repr, shared))}, which maximum "
            f"{cap.id!r} holds down, but not {cap.id!r} itself, so a bill could fall as usage "
            f"rises; add {cap.id!r} to applies_to"
        )
    same = floored - {cap.id} == capped and floor.per_dwelling_unit == cap.per_dwelling_unit
    if same and floor.amount > cap.amount:
        low, high = (format_cents(int(a * 100)) for a in (cap.amount, floor.amount))
        raise RuleError(
            f"{where}.amount: the minimum ({high}) is above the maximum {cap.id!r} ({low}) "
            "on the same charges"
        )
