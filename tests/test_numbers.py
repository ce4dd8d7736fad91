"""Numbers as written in statements, sources and queries (footnote.numbers)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from footnote.numbers import extract_numbers, query_numbers


def texts(numbers) -> list[str]:
    return [n.text for n in numbers]


def test_normalises_units_separators_and_zeros():
    a, b = extract_numbers("4.5x and 45 % of 1,000 at 128k"), extract_numbers("4.50× and 45% of 1000 at 128K")
    assert (
        [(n.value, n.unit) for n in a]
        == [(n.value, n.unit) for n in b]
        == [
            ("4.5", "×"),
            ("45", "%"),
            ("1000", ""),
            ("128", "K"),
        ]
    )


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        # a number glued to a name is the name's (its matching covers it), not a figure asked for
        ("Which deduplication methods does MiMo-7B apply?", []),
        ("Qwen2.5-Math-72B and DeepSeek-R1-Zero-Qwen-32B", []),
        ("GPT-4o and DeepSeek-V3", []),
        ("Qwen2.5-7B, Llama-3.1-8B-Instruct and Llama-2-70B", []),
        ("How does 4o compare?", []),
        ("MiMo-7B-RL scores 55.4 on AIME", ["55.4"]),
        # numbers on their own stay, units and signs included
        ("Llama 3 8B, the 671B model, a 7B-scale model", ["3", "8B", "671B", "7B"]),
        ("a 6.5× speedup on 79.8%", ["6.5×", "79.8%"]),
        ("a learning rate of 3e-4 and a -0.5 reward", ["3e-4", "-0.5"]),
        ("between 10-20 steps", ["10", "20"]),
        ("80GB of memory, tokens at 12.5Hz", ["80", "12.5"]),
        # "top-" names no model: its number is the claim's
        ("routes each token to its top-9 experts (top-2) and Top-8", ["9", "2", "8"]),
        ('"top-5" accuracy, top-1/top-5 76.1; laptop-3 and Stop-5 are names', ["5", "1", "5", "76.1"]),
    ],
)
def test_query_numbers_leave_out_the_numbers_of_names(query, expected):
    assert texts(query_numbers(query)) == expected


numbers = st.builds(
    lambda value, unit: value + unit,
    st.from_regex(r"[1-9]\d{0,3}(\.\d{1,2})?", fullmatch=True),
    st.sampled_from(["", "%", "×", "B", "K"]),
)
name = st.from_regex(r"[A-Z][a-z]{1,6}(\d(\.\d)?)?(-[A-Z][a-z]{1,4})?", fullmatch=True).filter(lambda n: n != "Top")


@given(name, numbers)
def test_a_number_after_a_name_and_a_hyphen_is_the_names(name, number):
    assert extract_numbers(f"How does {name}-{number} do?")
    assert query_numbers(f"How does {name}-{number} do?") == []


@given(numbers)
def test_a_number_on_its_own_is_asked_about(number):
    text = f"Which model reaches {number} on it?"
    assert query_numbers(text) == extract_numbers(text) != []
