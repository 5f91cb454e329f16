"""The clerks' account search: what each word finds, and on PostgreSQL that it uses the indexes."""

from datetime import date

import pytest
import sqlalchemy as sa

from accounts import search
from accounts.models import Parcel, ServicePoint
from accounts.services import create_account, search_accounts
from core.audit import Actor
from tests.conftest import account_data

CLERK = Actor("user", "3", "clerk@example.org", "127.0.0.1")
KEY = b"k" * 32


@pytest.fixture
def town(session):
    """Maria Olson (412 Oak Street), Lars Berg (9 Elm Road, parcel 251-0042-00, served at
    77 Birch Lane) and Ana 100% Ruiz (a former number MF-00012 and a name with wildcards)."""
    olson, _ = create_account(session, CLERK, account_data(), code_key=KEY)
    berg, _ = create_account(
        session,
        CLERK,
        account_data(
            holder_name="Lars Berg",
            mail_street="9 Elm Road",
            mail_city="Winneconne",
            mail_zip="54902",
            email="lars@example.net",
        ),
        code_key=KEY,
    )
    ruiz, _ = create_account(
        session,
        CLERK,
        account_data(
            holder_name="Ana 100%_Ruiz\\",
            mail_street="5 Lake Drive",
            mail_zip="54903",
            email=None,
        ),
        code_key=KEY,
    )
    ruiz.former_number = "MF-00012"
    session.add_all(
        [
            Parcel(
                parcel_number="251-0042-00",
                situs_street="9 Elm Road",
                situs_city="Maple Falls",
                situs_zip="54902",
                property_class="residential",
                owner_account=berg,
            ),
            ServicePoint(
                account=berg,
                service_kind="water",
                service_street="77 Birch Lane",
                service_city="Maple Falls",
                service_zip="54956",
                meter_id="W-77",
                dial_digits=6,
                installed_on=date(2020, 5, 1),
            ),
        ]
    )
    session.commit()
    return {"olson": olson, "berg": berg, "ruiz": ruiz}


def found(session, text: str) -> list[str]:
    """The holders the search finds, in the order it gives them."""
    return [a.holder_name.split()[-1] for a in search_accounts(session, text)]


WORDS = {
    "olson": ["Olson"],
    "OLSON": ["Olson"],
    "lson": ["Olson"],
    "412 oak": ["Olson"],
    "elm road": ["Berg"],
    "winneconne": ["Berg"],
    "birch": ["Berg"],
    "54956": ["Berg"],
    "5495": ["Berg"],
    "5490": ["Olson", "Berg", "100%_Ruiz\\"],
    "lars@example": ["Berg"],
    "example": ["Olson", "Berg"],
    "251-0042": ["Berg"],
    "0042-00": ["Berg"],
    "mf-00012": ["100%_Ruiz\\"],
    "maple olson": ["Olson"],
    "olson 54902": [],
    "100%": ["100%_Ruiz\\"],
    "0%_r": ["100%_Ruiz\\"],
    "ruiz\\": ["100%_Ruiz\\"],
    "1%": [],
    "%%%": [],
    "___": [],
    "z\\z": [],
    "nobody": [],
}


@pytest.mark.parametrize("dense_matches", [search.DENSE_MATCHES, 1])
def test_every_word_finds_what_it_names_wildcards_taken_literally(
    session, town, monkeypatch, dense_matches
):
    # With DENSE_MATCHES at 1 every word counts as common: the accounts are walked in number
    # order and checked, instead of found through the indexes; both ways find the same.
    monkeypatch.setattr(search, "DENSE_MATCHES", dense_matches)
    for text, holders in WORDS.items():
        assert found(session, text) == holders, text


def test_an_account_number_or_its_start_finds_the_account(session, town):
    number = town["berg"].number
    assert found(session, number) == ["Berg"]
    assert found(session, number[:6]) == ["Olson", "Berg", "100%_Ruiz\\"]
    assert found(session, number[2:7]) == []  # the number matches from its start only


def test_short_words_alone_match_only_the_start_of_an_account_number_or_parcel_id(session, town):
    assert found(session, town["olson"].number[:2]) == ["Olson", "Berg", "100%_Ruiz\\"]
    assert found(session, "25") == ["Berg"]
    assert found(session, "25 1") == ["Berg"]
    assert found(session, "la") == []  # not "Lars", "Lake" nor "Lane"
    assert found(session, "_") == [] and found(session, "%") == []


def test_a_short_word_beside_a_longer_one_narrows_it_anywhere(session, town):
    assert found(session, "example la") == ["Berg"]
    assert found(session, "oak 41") == ["Olson"]
    assert found(session, "oak 9") == []


def test_nothing_typed_lists_the_first_page_by_account_number(session, town):
    numbers = [a.number for a in search_accounts(session, "   ", limit=2)]
    assert numbers == sorted(t.number for t in town.values())[:2]


def test_more_than_six_words_uses_the_first_six(session, town):
    assert found(session, "maria olson 412 oak street maple nobody") == ["Olson"]


def _plan(session, words: list[str], rare: list[str]) -> str:
    """PostgreSQL's plan of the search query, with sequential scans made a last resort."""
    connection = session.connection()
    compiled = search.search_query(words, rare, limit=50).compile(dialect=connection.dialect)
    connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
    rows = connection.exec_driver_sql("EXPLAIN " + str(compiled), compiled.params).scalars()
    return "\n".join(rows)


def test_on_postgresql_the_search_finds_a_word_through_the_trigram_and_pattern_indexes(
    session, town
):
    if session.get_bind().dialect.name != "postgresql":
        pytest.skip("the trigram and pattern indexes exist on PostgreSQL only")
    session.execute(sa.text("ANALYZE account; ANALYZE service_point; ANALYZE parcel"))
    plan = _plan(session, ["olson", "54902"], ["olson"])
    for index in (
        "ix_account_number_prefix",
        "ix_account_former_number_trgm",
        "ix_account_holder_name_trgm",
        "ix_account_email_trgm",
        "ix_account_mail_street_trgm",
        "ix_account_mail_city_trgm",
        "ix_account_mail_zip_prefix",
        "ix_service_point_street_trgm",
        "ix_service_point_zip_prefix",
        "ix_parcel_parcel_number_trgm",
    ):
        assert index in plan, plan
    for table in ("account", "service_point", "parcel"):
        assert f"Seq Scan on {table}" not in plan, plan
    assert set(search.POSTGRESQL_INDEXES) <= set(
        session.scalars(sa.text("SELECT indexname FROM pg_indexes WHERE schemaname = 'public'"))
    )
    session.rollback()


def test_on_postgresql_a_short_word_alone_is_found_through_the_number_indexes(session, town):
    if session.get_bind().dialect.name != "postgresql":
        pytest.skip("the pattern indexes exist on PostgreSQL only")
    plan = _plan(session, ["25"], [])
    assert "Seq Scan on account" not in plan and "Seq Scan on parcel" not in plan, plan
    session.rollback()
