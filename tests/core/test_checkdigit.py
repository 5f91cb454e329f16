"""Luhn check digits on account numbers catch typing mistakes."""

from hypothesis import given
from hypothesis import strategies as st

from core.checkdigit import is_valid_luhn, luhn_digit, with_luhn


def test_known_luhn_numbers():
    assert luhn_digit("7992739871") == "3"
    assert is_valid_luhn("79927398713")
    assert is_valid_luhn("4242424242424242")


@given(st.text(alphabet="0123456789", min_size=1, max_size=18), st.data())
def test_any_single_digit_typo_is_caught(payload, data):
    number = with_luhn(payload)
    position = data.draw(st.integers(0, len(number) - 1))
    wrong = data.draw(st.sampled_from([d for d in "0123456789" if d != number[position]]))
    assert not is_valid_luhn(number[:position] + wrong + number[position + 1 :])


@given(st.text(alphabet="0123456789", min_size=2, max_size=18), st.data())
def test_swapping_two_neighbouring_digits_is_caught_except_09(payload, data):
    number = with_luhn(payload)
    i = data.draw(st.integers(0, len(number) - 2))
    a, b = number[i], number[i + 1]
    swapped = number[:i] + b + a + number[i + 2 :]
    if a != b and {a, b} != {"0", "9"}:
        assert not is_valid_luhn(swapped)
