"""``start_waves``: dependency order in waves, and the errors a stack file can cause."""

from __future__ import annotations

import pytest

from lcdev.core.plan import PlanError, start_waves


def test_independent_components_start_together_in_file_order() -> None:
    assert start_waves({"kafka": [], "postgres": []}) == [["kafka", "postgres"]]


def test_each_wave_only_depends_on_earlier_waves() -> None:
    waves = start_waves(
        {
            "gateway": ["postgres", "kafka"],
            "postgres": [],
            "relay": ["kafka"],
            "kafka": [],
        }
    )
    assert waves == [["postgres", "kafka"], ["gateway", "relay"]]


def test_a_chain_gives_one_wave_per_link() -> None:
    assert start_waves({"c": ["b"], "b": ["a"], "a": []}) == [["a"], ["b"], ["c"]]


def test_an_empty_stack_has_no_waves() -> None:
    assert start_waves({}) == []


def test_unknown_dependency_is_named() -> None:
    with pytest.raises(PlanError, match="'gateway' depends on unknown component 'postgress'"):
        start_waves({"postgres": [], "gateway": ["postgress"]})


def test_cycle_names_every_component_caught_in_it() -> None:
    with pytest.raises(PlanError, match="dependency cycle between components: a, b") as info:
        start_waves({"root": [], "a": ["b", "root"], "b": ["a"]})
    assert "root" not in str(info.value)


def test_self_dependency_is_a_cycle() -> None:
    with pytest.raises(PlanError, match="cycle"):
        start_waves({"loop": ["loop"]})
