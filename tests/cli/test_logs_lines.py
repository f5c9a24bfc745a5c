"""How one log line reads, and the option parsers of the telemetry commands."""

from __future__ import annotations

import io
import time
from dataclasses import replace
from datetime import datetime

import pytest
import typer
from rich.console import Console
from rich.text import Text

from lcdev.cli.commands._telemetry import parse_duration, parse_level, parse_since
from lcdev.cli.views.ansi import render_lines
from lcdev.cli.views.log_lines import MAX_SHOWN_CHARS, log_line, log_parts, service_width
from lcdev.cli.views.style import duration, service_style
from tests.cli.telemetry_samples import TRACE, sample_logs


def plain(line: Text) -> str:
    console = Console(file=io.StringIO(), width=300, color_system=None)
    console.print(line, soft_wrap=True)
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert isinstance(text, str)
    return text.rstrip("\n")


def local_clock(time_ns: int) -> str:
    return datetime.fromtimestamp(time_ns / 1e9).strftime("%H:%M:%S.%f")[:-3]


def test_a_line_has_time_service_level_message_and_short_trace_id() -> None:
    record = sample_logs()[6]
    assert plain(log_line(record, 8)) == (
        f"{local_clock(record.time_ns)} payments ERROR charge failed for order 42: card declined"
        f"  trace={TRACE[:12]}")


def test_columns_line_up_across_services_and_levels() -> None:
    lines = [plain(log_line(record, 8)) for record in sample_logs()]
    assert {line.index(" ", 13 + 8) for line in lines} == {21}  # service padded to 8
    messages = {line[13 + 8 + 1 + 5 + 1:].split()[0] for line in lines}
    assert "database" in messages
    assert "charge" in messages


def test_long_names_are_cut_to_the_column() -> None:
    record = replace(sample_logs()[0], service="notifications-service")
    assert " notifications-s… INFO " in plain(log_line(record, service_width(
        ["notifications-service", "orders"])))


def test_very_long_messages_are_cut_with_a_count_of_what_is_hidden() -> None:
    record = replace(sample_logs()[0], message="x" * 5000)
    shown = plain(log_line(record, 8))
    assert shown.endswith("x… [+3000 chars]")
    assert shown.count("x") == MAX_SHOWN_CHARS
    stored_cut = replace(record, message="y" * 10, attributes={"lcdev.truncated_chars": 70000})
    assert plain(log_line(stored_cut, 8)).endswith("yyyyyyyyyy… [+70000 chars]")


def test_continuation_lines_start_under_the_message() -> None:
    record = replace(sample_logs()[6], message="Traceback:\n  File x\nValueError", trace_id="")
    first, second, third = plain(log_line(record, 8)).splitlines()
    assert first.endswith("ERROR Traceback:")
    assert second == " " * first.index("Traceback") + "  File x"
    assert third == " " * first.index("Traceback") + "ValueError"


def test_markup_in_messages_is_printed_as_is() -> None:
    record = replace(sample_logs()[0], message="[bold]not markup[/] [red]")
    assert plain(log_line(record, 8)).endswith("[bold]not markup[/] [red]")


def test_service_colours_are_stable_and_never_red_or_yellow() -> None:
    names = ["orders", "payments", "gateway", "inventory", "lcdev", "postgres", "kafka", "x"]
    assert [service_style(name) for name in names] == [service_style(name) for name in names]
    assert len({service_style(name) for name in names}) > 3
    styles = {service_style(f"service-{n}") for n in range(200)}
    assert not any("red" in style or "yellow" in style for style in styles)


@pytest.mark.parametrize(("ns", "text"), [
    (850_000, "850 µs"), (3_050_000, "3.05 ms"), (42_100_000, "42.1 ms"),
    (1_240_000_000, "1.24 s"), (125_000_000_000, "2m05s"), (-2_000_000, "-2.00 ms")])
def test_durations_read_at_a_glance(ns: int, text: str) -> None:
    assert duration(ns) == text


@pytest.mark.parametrize(("text", "ns"), [
    ("100ms", 100_000_000), ("1.5s", 1_500_000_000), ("250us", 250_000), ("250", 250_000_000),
    ("2m", 120_000_000_000)])
def test_durations_parse(text: str, ns: int) -> None:
    assert parse_duration(text) == ns


def test_since_accepts_ages_timestamps_and_times_of_day() -> None:
    now = time.time_ns()
    assert abs(parse_since("5m") - (now - 300 * 10**9)) < 10**9
    assert abs(parse_since("1d") - (now - 86_400 * 10**9)) < 10**9
    assert abs(parse_since("30") - (now - 30 * 10**9)) < 10**9  # bare number: seconds
    assert parse_since("2026-01-01T12:00:00Z") == 1_767_268_800 * 10**9
    local = datetime(2026, 1, 1, 12, 0).timestamp()
    assert parse_since("2026-01-01T12:00") == int(local * 10**9)
    today = datetime.combine(datetime.now().date(), datetime.min.time()).replace(hour=14)
    assert parse_since("14:00") == int(today.timestamp() * 10**9)


@pytest.mark.parametrize("text", ["soon", "5 parsecs", "2026-13-45", ""])
def test_since_refuses_what_it_cannot_read(text: str) -> None:
    with pytest.raises(typer.BadParameter):
        parse_since(text)


def test_levels_accept_common_spellings() -> None:
    assert [parse_level(name) for name in ("WARNING", "warn", "err", "critical", "debug")] == [
        "warn", "warn", "error", "fatal", "debug"]
    with pytest.raises(typer.BadParameter, match="trace, debug, info, warn, error, fatal"):
        parse_level("loud")


def test_fast_rendering_matches_what_rich_prints() -> None:
    records = sample_logs()
    multi = replace(records[6], message="first\nsecond")
    for system in ("truecolor", "256", "standard"):
        console = Console(file=io.StringIO(), color_system=system,  # type: ignore[arg-type]
                          force_terminal=True, width=300)
        for record in [*records, multi]:
            console.print(log_line(record, 8), soft_wrap=True)
        expected = console.file.getvalue()  # type: ignore[attr-defined]
        assert render_lines([log_parts(r, 8) for r in [*records, multi]], console) == expected


def test_fast_rendering_is_plain_in_a_pipe_and_colourless_with_no_color() -> None:
    record = sample_logs()[6]
    pipe = Console(file=io.StringIO(), width=100)
    assert render_lines([log_parts(record, 8)], pipe) == plain(log_line(record, 8)) + "\n"
    no_color = Console(file=io.StringIO(), force_terminal=True, no_color=True,
                       color_system="truecolor", width=100)
    shown = render_lines([log_parts(record, 8)], no_color)
    assert "\x1b[2m" in shown  # dim and bold stay: NO_COLOR is about colour
    assert "31m" not in shown
    assert "38;" not in shown
