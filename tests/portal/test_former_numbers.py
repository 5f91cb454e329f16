"""Quick pay takes a converted account's former number, for a while after the conversion."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from accounts.models import Account
from core.calendar import town_today
from core.extensions import db
from tests.portal.conftest import quick_pay


def _converted(app, billed, days_ago: int) -> None:
    """Mark the household as converted days_ago, with its old system's number."""
    with app.app_context():
        account = db.session.scalar(sa.select(Account).where(Account.number == billed.number))
        account.former_number = "MF-0042-7"
        account.converted_on = town_today(app.config) - timedelta(days=days_ago)
        db.session.commit()


def test_the_former_number_and_the_access_code_open_the_bill(app, client, billed):
    _converted(app, billed, days_ago=30)
    response = quick_pay(client, "mf-0042-7 ", billed.access_code)
    assert response.status_code == 303, response.text
    assert billed.number in client.get("/my/bill").text


@pytest.mark.parametrize("days_ago, accepted_days", [(366, 365), (1, 0)])
def test_the_former_number_is_refused_after_the_configured_period(
    app, client, billed, days_ago, accepted_days
):
    app.config["CONVERSION_FORMER_NUMBER_DAYS"] = accepted_days
    _converted(app, billed, days_ago=days_ago)
    assert quick_pay(client, "MF-0042-7", billed.access_code).status_code == 422
    assert quick_pay(client, billed.number, billed.access_code).status_code == 303
