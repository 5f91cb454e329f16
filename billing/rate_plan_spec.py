"""Rate plans as frozen values: units, components, versions, and their canonical document.

Pure module. billing.rate_plan_format parses a document into these values; plan_to_document
gives the canonical document back (the one the service stores), which parses to an equal spec.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

FREQUENCIES = ("monthly", "bimonthly", "quarterly")
#: Unit code -> (family, size in the family's smallest unit, invoice-line label, short symbol).
UNITS: dict[str, tuple[str, Decimal, str, str]] = {
    "gal": ("gallons", Decimal(1), "gallons", "gal"),
    "kgal": ("gallons", Decimal(1000), "1,000 gallons", "kgal"),
    "cf": ("cubic feet", Decimal(1), "cubic feet", "cu ft"),
    "hcf": ("cubic feet", Decimal(100), "HCF", "HCF"),
    "ccf": ("cubic feet", Decimal(100), "CCF", "CCF"),
    "m3": ("cubic metres", Decimal(1), "cubic metres", "m³"),
}
_UNIT_ALIASES = {
    "gal": ("gallon", "gallons"),
    "kgal": ("1,000 gallons", "1000 gallons", "thousand gallons", "1,000 gal", "1000 gal"),
    "cf": ("cu ft", "ft3", "cubic foot", "cubic feet"),
    "hcf": ("100 cubic feet", "hundred cubic feet"),
    "ccf": (),
    "m3": ("m³", "cubic metre", "cubic metres", "cubic meter", "cubic meters"),
}
UNIT_NAMES = {alias: code for code, names in _UNIT_ALIASES.items() for alias in (code, *names)}
#: Decimal places allowed: quantities as an invoice line stores them, rates likewise, money.
QUANTITY_PLACES, RATE_PLACES, MONEY_PLACES = 4, 8, 2
BlockTable = tuple["Block", ...]


@dataclass(frozen=True)
class UnitConversion:
    """A conversion the plan declares across unit families: 1 `unit` = `amount` `other_unit`."""

    unit: str
    amount: Decimal
    other_unit: str


@dataclass(frozen=True)
class FixedCharge:
    """A charge (or, with category "fee", a fee) per billing period, whatever the usage."""

    id: str
    description: str
    #: Dollars per period; None when the amount comes from by_meter_size.
    amount: Decimal | None
    #: (meter size, dollars per period) pairs; empty when amount is set.
    by_meter_size: tuple[tuple[str, Decimal], ...] = ()
    per_dwelling_unit: bool = False
    category: str = "charge"


@dataclass(frozen=True)
class Allowance:
    """Usage included in the base charge: shown at zero and not billed by the usage charges."""

    id: str
    description: str
    included: Decimal
    per_dwelling_unit: bool = False


@dataclass(frozen=True)
class Block:
    """One block of a block rate: usage up to `up_to` (None: all the rest) at `rate` per unit."""

    up_to: Decimal | None
    rate: Decimal


@dataclass(frozen=True)
class BlockCharge:
    """Inclining or declining blocks; boundaries are on the period's total usage."""

    id: str
    description: str
    blocks: BlockTable
    #: (meter size, blocks) pairs; empty when blocks is set.
    by_meter_size: tuple[tuple[str, BlockTable], ...] = ()
    #: Multiply every boundary by the number of dwelling units.
    per_dwelling_unit: bool = False


@dataclass(frozen=True)
class UsageAboveCharge:
    """A rate per unit on usage above a threshold only."""

    id: str
    description: str
    threshold: Decimal
    rate: Decimal
    per_dwelling_unit: bool = False


@dataclass(frozen=True)
class UniformCharge:
    """One rate per unit on all billed usage."""

    id: str
    description: str
    rate: Decimal


@dataclass(frozen=True)
class MinimumCharge:
    """Tops the bill (or the named components) up to a minimum, in dollars."""

    id: str
    description: str
    amount: Decimal
    #: Component ids in scope; empty means every other component except minimums.
    applies_to: tuple[str, ...] = ()
    per_dwelling_unit: bool = False


@dataclass(frozen=True)
class MaximumCharge:
    """Caps the named components (by default every usage charge) at a maximum, in dollars."""

    id: str
    description: str
    amount: Decimal
    #: Component ids in scope; empty means every usage charge (blocks, above, uniform).
    applies_to: tuple[str, ...] = ()
    per_dwelling_unit: bool = False


Component = (
    FixedCharge
    | Allowance
    | BlockCharge
    | UsageAboveCharge
    | UniformCharge
    | MinimumCharge
    | MaximumCharge
)
USAGE_CHARGES = (BlockCharge, UsageAboveCharge, UniformCharge)


@dataclass(frozen=True)
class RateVersionSpec:
    """The rates in force from one date until the next version's date."""

    effective_from: date
    frequency: str
    components: tuple[Component, ...]
    #: Billed usage is rounded to a multiple of this step, in the plan's unit.
    usage_step: Decimal = Decimal("0.0001")
    usage_rounding: str = "down"

    @property
    def bills_usage(self) -> bool:
        """Whether any component needs the period's usage."""
        return any(isinstance(c, (Allowance, *USAGE_CHARGES)) for c in self.components)


@dataclass(frozen=True)
class RatePlanSpec:
    """A rate plan: what a service costs, version by version."""

    code: str
    name: str
    service_kind: str
    #: The plan's pricing unit, a UNITS code such as "kgal" or "ccf"; "" for an unmetered plan.
    unit: str
    versions: tuple[RateVersionSpec, ...]
    conversions: tuple[UnitConversion, ...] = ()


def plan_to_document(spec: RatePlanSpec) -> dict:
    """The canonical JSON-able document of a spec; parsing it gives an equal spec."""
    document: dict[str, Any] = {
        "code": spec.code,
        "name": spec.name,
        "service_kind": spec.service_kind,
        **({"unit": spec.unit} if spec.unit else {}),
        "conversions": {c.unit: f"{_exact(c.amount)} {c.other_unit}" for c in spec.conversions},
        "versions": [],
    }
    for version in spec.versions:
        document["versions"].append(
            {
                "effective_from": version.effective_from.isoformat(),
                "frequency": version.frequency,
                "usage_step": _exact(version.usage_step),
                "usage_rounding": version.usage_rounding,
                "components": [component_document(c) for c in version.components],
            }
        )
    return document


def component_document(component: Component) -> dict:
    """The canonical document of one component."""
    doc: dict[str, Any] = {"id": component.id, "kind": component_kind(component)}
    doc["description"] = component.description
    if isinstance(component, FixedCharge):
        if component.amount is not None:
            doc["amount"] = _exact(component.amount)
        else:
            doc["by_meter_size"] = {size: _exact(rate) for size, rate in component.by_meter_size}
    elif isinstance(component, Allowance):
        doc["included"] = _exact(component.included)
    elif isinstance(component, BlockCharge):
        if component.blocks:
            doc["blocks"] = _blocks_document(component.blocks)
        else:
            doc["by_meter_size"] = {s: _blocks_document(b) for s, b in component.by_meter_size}
    elif isinstance(component, UsageAboveCharge):
        doc.update(threshold=_exact(component.threshold), rate=_exact(component.rate))
    elif isinstance(component, UniformCharge):
        doc["rate"] = _exact(component.rate)
    else:
        doc.update(amount=_exact(component.amount), applies_to=list(component.applies_to))
    if not isinstance(component, UniformCharge):
        doc["per_dwelling_unit"] = component.per_dwelling_unit
    return doc


def _blocks_document(blocks: BlockTable) -> list[dict]:
    """The canonical list of blocks."""
    return [
        {"rate": _exact(b.rate)}
        if b.up_to is None
        else {"up_to": _exact(b.up_to), "rate": _exact(b.rate)}
        for b in blocks
    ]


def component_kind(component: Component) -> str:
    """The document's kind name of a component."""
    if isinstance(component, FixedCharge):
        return "fee" if component.category == "fee" else "fixed"
    return _KINDS[type(component)]


_KINDS: dict[type, str] = {
    Allowance: "allowance",
    BlockCharge: "blocks",
    UsageAboveCharge: "usage_above",
    UniformCharge: "uniform",
    MinimumCharge: "minimum",
    MaximumCharge: "maximum",
}


def plain_number(number: Decimal) -> str:
    """A number as written, without exponent or trailing zeros: 5, 2.5, 1,000."""
    return f"{number.normalize():,f}"


def _exact(number: Decimal) -> str:
    """A number exactly as held, in plain notation: '4.230' stays '4.230'."""
    return format(number, "f")
