"""Reports CI reads: JUnit XML (parsed back) and GitHub Actions annotations."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from lcdev.contracts.annotations import annotation, github_annotations, in_github_actions
from lcdev.contracts.findings import Finding
from lcdev.contracts.junit import junit_xml, write_junit

FAILED = Finding(
    check="api", name="orders: POST /orders/orders", outcome="failed", service="orders",
    message="Server error: 500 on an empty sku", where="POST /orders/orders",
    reproduce="curl -X POST -H 'Content-Type: application/json' -d '{\"sku\": \"\"}' "
              "http://127.0.0.1:8800/orders/orders",
    trace_id="4bf92f3577b34da6a3ce929d0e0e4736", hint="validate sku before using it",
    seconds=1.25, details={"seed": 42})
FINDINGS = [
    Finding(check="api", name="orders: GET /orders/orders", outcome="passed", service="orders",
            seconds=0.5),
    FAILED,
    Finding(check="events", name="payments.PaymentProcessed -> orders", outcome="error",
            service="orders", message="the broker did not answer",
            where="services/orders/service.yaml:40:7"),
    Finding(check="events", name="orders.OrderPlaced -> nobody", outcome="skipped",
            message="no consumers"),
]


def _parsed(findings: list[Finding], asked: tuple[str, ...] = ("api", "events")) -> ET.Element:
    return ET.fromstring(junit_xml(findings, asked, 3.5))  # type: ignore[arg-type]


def test_one_suite_per_check_with_counts_that_add_up() -> None:
    root = _parsed(FINDINGS)
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures"), root.get("errors"), root.get("skipped")
            ) == ("4", "1", "1", "1")
    suites = {s.get("name"): s for s in root.iter("testsuite")}
    assert list(suites) == ["api", "events"]
    assert {k: suites["api"].get(k) for k in ("tests", "failures", "errors", "time")} == {
        "tests": "2", "failures": "1", "errors": "0", "time": "1.750"}
    assert [c.get("name") for c in suites["events"].iter("testcase")] == [
        "payments.PaymentProcessed -> orders", "orders.OrderPlaced -> nobody"]


def test_a_failure_carries_message_reproduction_trace_and_seed() -> None:
    case = next(c for c in _parsed(FINDINGS).iter("testcase")
                if c.get("name") == "orders: POST /orders/orders")
    assert case.get("classname") == "api.orders"
    failure = case.find("failure")
    assert failure is not None
    assert failure.get("message") == "Server error: 500 on an empty sku"
    text = failure.text or ""
    assert f"reproduce: {FAILED.reproduce}" in text
    assert "trace: lcdev trace 4bf92f3577b34da6a3ce929d0e0e4736" in text
    assert "hint: validate sku before using it" in text
    assert "lcdev test --seed 42" in text


def test_errors_and_skips_are_told_apart_from_failures() -> None:
    cases = {c.get("name"): c for c in _parsed(FINDINGS).iter("testcase")}
    error = cases["payments.PaymentProcessed -> orders"]
    assert error.find("failure") is None
    assert error.find("error") is not None
    assert error.get("file") == "services/orders/service.yaml"
    assert cases["orders.OrderPlaced -> nobody"].find("skipped") is not None
    passed = cases["orders: GET /orders/orders"]
    assert list(passed) == []


def test_a_check_asked_for_without_findings_still_has_its_suite(tmp_path: Path) -> None:
    path = tmp_path / "reports" / "report.xml"
    write_junit(path, [], ("api", "breaking"), 0.1)
    root = ET.parse(path).getroot()
    assert [(s.get("name"), s.get("tests")) for s in root.iter("testsuite")] == [
        ("api", "0"), ("breaking", "0")]
    assert path.read_text().startswith('<?xml version="1.0" encoding="UTF-8"?>\n<testsuites ')


def test_markup_in_messages_survives_the_round_trip() -> None:
    odd = Finding(check="api", name="x: GET /a?<b>&c", outcome="failed",
                  message="expected <object> & got \"]]>\"")
    failure = _parsed([odd], ("api",)).find("./testsuite/testcase/failure")
    assert failure is not None
    assert failure.get("message") == odd.message


def test_annotations_point_at_file_line_and_column() -> None:
    finding = Finding(check="events", name="payments.PaymentProcessed -> orders",
                      outcome="failed", message="orders reads 'total', not published",
                      where="services/orders/service.yaml:40:7", hint="add total to the payload")
    assert annotation(finding) == (
        "::error file=services/orders/service.yaml,line=40,col=7,"
        "title=lcdev test%3A payments.PaymentProcessed -> orders failed::"
        "orders reads 'total', not published%0Ahint: add total to the payload")


def test_annotations_without_a_file_escape_newlines_and_percent() -> None:
    line = annotation(FAILED)
    assert line is not None
    assert line.startswith("::error title=lcdev test%3A orders%3A POST /orders/orders failed::")
    assert "\n" not in line
    assert "%0Areproduce: curl -X POST" in line
    error = annotation(Finding(check="api", name="api: stack", outcome="error",
                               message="100% broken,\r\nreally"))
    assert error == ("::error title=lcdev test%3A api%3A stack could not be checked::"
                     "100%25 broken,%0D%0Areally")


def test_only_failures_and_errors_are_annotated() -> None:
    assert len(github_annotations(FINDINGS)) == 2
    assert in_github_actions({"GITHUB_ACTIONS": "true"})
    assert not in_github_actions({})


def test_annotations_name_files_from_the_checkout_root(tmp_path: Path) -> None:
    """GitHub places an annotation by its path in the repository; the workspace may be a
    subfolder of it."""
    workspace = tmp_path / "platform" / "shop"
    workspace.mkdir(parents=True)
    broken = Finding("breaking", "orders: - field Order.reason", "failed", service="orders",
                     message="removed", where="services/orders/service.yaml:12:5")
    inside = github_annotations([broken], workspace, {"GITHUB_WORKSPACE": str(tmp_path)})
    assert inside[0].startswith("::error file=platform/shop/services/orders/service.yaml,"
                                "line=12,col=5,")
    outside = github_annotations([broken], workspace, {})
    assert outside[0].startswith("::error file=services/orders/service.yaml,line=12,")
