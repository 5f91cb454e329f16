"""A town whose households were sent shutoff notices on Monday December 28, 2026 (earliest
shutoff Thursday January 7, 2027), under a rule with a 48-hour door hanger and a $35.00
reconnection fee; helpers to hang, issue and read the field's papers back."""

from __future__ import annotations

import subprocess
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from accounts.models import Account, Language
from billing.models import ShutoffOrder
from billing.shutoff_rules import load_shutoff_rule
from core.audit import Actor
from core.extensions import db
from notices.shutoff_field import door_hangers_on, hang_door_hangers, issue_work_orders
from notices.shutoff_notices import issue_shutoff_notice
from tests.notices.test_shutoff import CLERK, DAY, RULE, _town

JOB = Actor.job("field")
#: The door hangers go out Tuesday January 5 (48 hours before the 7th).
HANG_DAY = date(2027, 1, 5)
#: The crews go out Thursday January 7.
WORK_DAY = date(2027, 1, 7)
FEE = 3500
FIELD_RULE = RULE | {"final_notice_hours": 48, "reconnection_fee": "35.00"}
ZONE = ZoneInfo("America/Chicago")


def noticed_town(app, people) -> list[int]:
    """_town's households (name, mail street, paperless, language), each sent its shutoff
    notice on DAY under FIELD_RULE."""
    ids = _town(app, people)
    with app.app_context():
        load_shutoff_rule(db.session, CLERK, FIELD_RULE)
        for account_id in ids:
            issue_shutoff_notice(
                db.session, app.config, CLERK, db.session.get(Account, account_id), DAY
            )
        db.session.commit()
    return ids


def one(app, language: Language = Language.EN) -> int:
    """One noticed household living at its service address (1 Oak St)."""
    return noticed_town(app, [("olson", "1 Oak St", False, language)])[0]


def hang_and_issue(app) -> list[ShutoffOrder]:
    """Leave the hangers on HANG_DAY and issue the orders of WORK_DAY; the orders."""
    hang_door_hangers(db.session, app.config, JOB, as_of=HANG_DAY)
    issue_work_orders(db.session, app.config, JOB, as_of=WORK_DAY)
    return list(db.session.scalars(sa.select(ShutoffOrder).order_by(ShutoffOrder.id)))


def at(day: date, hour: int, minute: int = 0) -> datetime:
    """A moment on the town's clock."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=ZONE)


def pdf_text(data: bytes, tmp_path: Path, name: str = "field.pdf") -> str:
    """A PDF as pdftotext reads it, white space folded."""
    path = tmp_path / name
    path.write_bytes(data)
    out = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True)
    return " ".join(out.stdout.split())


def pdf_pages(data: bytes, tmp_path: Path) -> list[str]:
    """Each page's text (pdftotext splits pages with a form feed)."""
    path = tmp_path / "pages.pdf"
    path.write_bytes(data)
    out = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True)
    return [" ".join(page.split()) for page in out.stdout.split("\f") if page.strip()]


__all__ = ["door_hangers_on"]
