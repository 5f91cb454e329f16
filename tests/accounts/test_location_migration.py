"""The migration that brings in service locations keeps existing data valid: one location per
distinct service address of an account, that account its owner and responsible from its
earliest installation, every service point in its location."""

from __future__ import annotations

from datetime import date

import flask_migrate
import sqlalchemy as sa

from core import create_app
from core.extensions import db
from tests.billing.billing_fixtures import bill_households
from tests.conftest import app_settings
from tests.test_migrations import empty_database_url  # noqa: F401 - the fixture

BEFORE = "f2d4e6a8c0b3"


def test_existing_service_points_get_one_location_per_address_of_their_account(
    empty_database_url,  # noqa: F811
    tmp_path,
    monkeypatch,
):
    monkeypatch.setenv("MUNIBILL_INSTANCE_PATH", str(tmp_path))
    app = create_app(app_settings(empty_database_url, tmp_path))
    with app.app_context():
        flask_migrate.upgrade()
    bill_households(app, "olson", "nguyen")
    with app.app_context():
        flask_migrate.downgrade(revision=BEFORE)
        with db.engine.begin() as connection:
            connection.execute(
                sa.text(
                    "UPDATE service_point SET service_street = '7 Pine St', installed_on = :day "
                    "WHERE service_kind = 'trash'"
                ),
                {"day": date(2025, 3, 1)},
            )
        flask_migrate.upgrade()
        with db.engine.connect() as connection:
            locations = connection.execute(
                sa.text(
                    "SELECT l.street, a.holder_name, r.starts_on, r.ends_on, "
                    "(SELECT count(*) FROM service_point p WHERE p.location_id = l.id) "
                    "FROM service_location l JOIN account a ON a.id = l.owner_account_id "
                    "JOIN location_responsibility r ON r.location_id = l.id "
                    "AND r.account_id = l.owner_account_id ORDER BY a.holder_name, l.street"
                )
            ).all()
            orphans = connection.execute(
                sa.text("SELECT count(*) FROM service_point WHERE location_id IS NULL")
            ).scalar()
        db.engine.dispose()
    names = sorted({row[1] for row in locations})
    assert len(names) == 2
    for name in names:
        mine = [(row[0], str(row[2]), row[3], row[4]) for row in locations if row[1] == name]
        assert mine == [("1 Oak St", "2024-01-01", None, 2), ("7 Pine St", "2025-03-01", None, 1)]
    assert orphans == 0


def test_imported_service_points_join_the_location_of_their_address(session):
    from accounts.locations import ServiceLocation
    from accounts.models import ServicePoint
    from accounts.responsibility import history
    from tests.accounts.test_imports import _town

    (number, *_others) = _town(session)

    (location,) = session.scalars(sa.select(ServiceLocation)).all()
    points = session.scalars(sa.select(ServicePoint)).all()
    assert {p.location_id for p in points} == {location.id}
    assert (location.street, location.owner_account.number) == ("412 Oak Street", number)
    (responsible,) = history(session, location.id)
    assert (responsible.account.number, responsible.starts_on) == (number, date(2024, 1, 1))
