"""What a grep pattern requires: the literals handed to the trigram index."""

from __future__ import annotations

import pytest

from lcdev.telemetry.store.textsearch import Requirement, fts_query, required_text


@pytest.mark.parametrize(("pattern", "literals"), [
    ("order placed", ("order placed",)),
    (r"timeout after \d+ ms", ("timeout after ", " ms")),
    (r"^GET /orders/\d+ HTTP", ("GET /orders/", " HTTP")),
    (r"(?i)Connection REFUSED", ("Connection REFUSED",)),
    (r"(payment) failed", ("payment", " failed")),
    (r"(?:abc)+xyz", ("abc", "xyz")),
    (r"a.c\.def", ("c.def",)),  # the escaped dot is a literal character
    (r"ab", ()),  # too short for trigrams
    (r"x*yz", ()),
])
def test_literals_every_match_contains(pattern: str, literals: tuple[str, ...]) -> None:
    found = required_text(pattern)
    assert (found.all_of if found else ()) == literals


def test_optional_parts_require_nothing() -> None:
    assert required_text(r"(order)?\d+") is None
    assert required_text(r"(?:order){0,3}") is None
    assert required_text(r"\d{3}\s+ms$") is None
    assert required_text(r"[abc]+") is None


def test_alternation_needs_every_branch_to_have_a_literal() -> None:
    found = required_text("timeout|refused")
    assert found == Requirement(any_of=((Requirement(("timeout",)), Requirement(("refused",))),))
    assert required_text(r"timeout|\d+") is None
    assert required_text(r"error: (timeout|refused)") is not None


def test_ignore_case_uses_only_ascii_literals() -> None:
    assert required_text("(?i)größe") is None
    assert required_text("größe") == Requirement(("größe",))
    # the flag covers only its group: the rest is still used
    assert required_text("(?i:straße) ok") == Requirement((" ok",))


def test_invalid_pattern_gives_nothing() -> None:
    assert required_text("(unclosed") is None


def test_fts_query_is_an_and_of_quoted_trigrams() -> None:
    assert fts_query(Requirement(('say "hi"',))) == (
        '"say" AND "ay " AND "y """ AND " ""h" AND """hi" AND "hi"""')
    long_literal = fts_query(Requirement(("abcdefghijklmnopqrstuvwxyz",)))
    assert long_literal.count(" AND ") == 7  # at most eight trigrams per literal
    assert long_literal.startswith('"abc"')
    assert long_literal.endswith('"xyz"')
    either = fts_query(required_text("timeout|refused") or Requirement())
    assert either == ('(("tim" AND "ime" AND "meo" AND "eou" AND "out") OR ("ref" AND "efu" '
                      'AND "fus" AND "use" AND "sed"))')
