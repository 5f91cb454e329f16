"""Billing accounts: numbers with check digits, access codes that are printed but never stored."""

import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st

from accounts.services import (
    check_access_code,
    create_account,
    derive_access_code,
    find_account,
    normalize_access_code,
    reissue_access_code,
    valid_account_number,
)
from core.audit import Actor
from core.extensions import db
from tests.conftest import account_data

CLERK = Actor("user", "3", "clerk@example.org", "127.0.0.1")
KEY = b"k" * 32


def test_account_numbers_are_sequential_with_a_luhn_digit(session):
    numbers = [
        create_account(session, CLERK, account_data(), code_key=KEY)[0].number for _ in range(3)
    ]
    assert numbers == ["10000016", "10000024", "10000032"]
    assert all(valid_account_number(n) for n in numbers)
    assert not valid_account_number("10000015")
    assert not valid_account_number("10000061")  # two digits swapped


def test_the_access_code_verifies_but_is_not_stored(session):
    account, code = create_account(session, CLERK, account_data(), code_key=KEY)
    session.commit()
    assert check_access_code(account, code)
    assert check_access_code(account, code.lower().replace("-", " "))
    assert not check_access_code(account, derive_access_code(KEY, "10000024", 1))
    stored = " ".join(str(v) for v in session.execute(sa.text("SELECT * FROM account")).one())
    assert code not in stored and code.replace("-", "") not in stored


def test_the_printed_code_is_derived_again_for_each_notice(session):
    account, code = create_account(session, CLERK, account_data(), code_key=KEY)
    assert derive_access_code(KEY, account.number, account.access_code_version) == code


def test_reissuing_retires_the_old_code(session):
    account, old = create_account(session, CLERK, account_data(), code_key=KEY)
    new = reissue_access_code(session, CLERK, account, code_key=KEY)
    assert new != old
    assert check_access_code(account, new) and not check_access_code(account, old)


@given(st.text(alphabet="0123456789ABCDEFGHJKMNPQRSTVWXYZ", min_size=10, max_size=10))
def test_codes_read_the_same_however_they_are_typed(raw):
    code = f"{raw[:5]}-{raw[5:]}"
    typed = code.lower().replace("0", "o").replace("1", "l").replace("-", "  ")
    assert normalize_access_code(typed) == code


def test_find_account_ignores_spaces_and_dashes(session):
    account, _code = create_account(session, CLERK, account_data(), code_key=KEY)
    assert find_account(session, f" {account.number[:4]}-{account.number[4:]} ") is account


def test_clerks_find_accounts_by_any_word_of_name_email_address_or_parcel(app, signed_in):
    from accounts.models import Parcel
    from accounts.services import create_account, search_accounts
    from core.audit import Actor
    from tests.conftest import account_data

    with app.app_context():
        actor = Actor.system("test")
        key = app.config["ACCESS_CODE_KEY"]
        olson, _ = create_account(db.session, actor, account_data(), code_key=key)
        berg, _ = create_account(
            db.session,
            actor,
            account_data(
                holder_name="Lars Berg",
                mail_street="9 Elm Road",
                mail_zip="54902",
                email="lars@example.net",
            ),
            code_key=key,
        )
        db.session.add(
            Parcel(
                parcel_number="251-0042-00",
                situs_street="9 Elm Road",
                situs_city="Maple Falls",
                situs_zip="54902",
                property_class="residential",
                owner_account=berg,
            )
        )
        db.session.commit()

        def found(text: str) -> list[str]:
            return [a.holder_name for a in search_accounts(db.session, text)]

        assert found("olson") == ["Maria Olson"]
        assert found("412 OAK") == ["Maria Olson"]
        assert found("lars@example") == ["Lars Berg"]
        assert found("251-0042") == ["Lars Berg"]
        assert found("54902") == ["Lars Berg"]
        assert found(olson.number[:6]) == ["Maria Olson", "Lars Berg"]
        assert found("olson 54902") == []
        assert found("100%") == [] and found("_") == []  # wildcards are taken literally
    page = signed_in("auditor").get("/staff/accounts/?q=elm+road").text
    assert "Lars Berg" in page and "Maria Olson" not in page
