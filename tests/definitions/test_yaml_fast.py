"""The fast YAML path (libyaml) gives exactly ruamel's data, and leaves the rest to ruamel.

ruamel's round-trip reading (``_parse_round_trip``, what ``load_document`` always did before)
is the reference: whenever ``parse_fast`` answers, the data must be the same, types included.
"""

from __future__ import annotations

import ast
import datetime as dt
import math
import textwrap
from pathlib import Path
from typing import Any

import pytest

from lcdev.definitions import WorkspaceDefinition, load_document, load_model
from lcdev.definitions.issues import Loc
from lcdev.definitions.yamlfast import parse_fast
from lcdev.definitions.yamlload import YamlDocument, _parse_round_trip
from lcdev.scaffolding.render import available_templates, render_workspace

from .conftest import REPO, Writer

SHOWN = Path("f.yaml")


def typed(value: Any) -> Any:
    """``value`` with every type spelled out, so 1, 1.0 and True differ and NaN equals NaN."""
    if isinstance(value, dict):
        return ("dict", [(typed(k), typed(v)) for k, v in value.items()])
    if isinstance(value, list):
        return ("list", [typed(v) for v in value])
    if isinstance(value, float):
        return ("float", repr(value), math.copysign(1.0, value))
    return (type(value).__qualname__, repr(value))


def answered_like_ruamel(text: str) -> bool:
    """Whether the fast path answered; when it did, it must agree with ruamel exactly."""
    fast = parse_fast(text)
    if fast is None:
        return False
    doc, problems = _parse_round_trip(SHOWN, SHOWN, text)
    assert problems == [], f"fast path accepted {text!r}, ruamel reports {problems}"
    assert doc is not None
    assert typed(fast.data) == typed(doc.data), text
    return True


# --- scalars: value, key, flow item and block item all resolve the same way ---------------

UTC = dt.timezone(dt.timedelta(0), "Z")
PLUS_0530 = dt.timezone(dt.timedelta(hours=5, minutes=30), "+05:30")
MINUS_5 = dt.timezone(dt.timedelta(hours=-5), "-5")

SCALARS: list[tuple[str, Any]] = [
    # YAML 1.2: the 1.1 booleans are strings
    ("yes", "yes"), ("no", "no"), ("on", "on"), ("off", "off"), ("y", "y"), ("n", "n"),
    ("Yes", "Yes"), ("OFF", "OFF"),
    ("true", True), ("True", True), ("TRUE", True), ("false", False), ("FALSE", False),
    ("tRUE", "tRUE"),
    # ints: a leading zero is decimal, 0o is octal; sexagesimal is a string
    ("0", 0), ("-0", 0), ("+12", 12), ("-12", -12), ("0755", 755), ("08", 8), ("0o17", 15),
    ("0x1F", 31), ("-0x1f", -31), ("0X1F", "0X1F"), ("0b101", 5), ("+0b11", 3),
    ("1_000", 1000), ("12_", 12), ("_1", "_1"), ("1__2", 12), ("1:30", "1:30"),
    ("190:20:30", "190:20:30"), ("1,000", "1,000"), ("0o8", "0o8"), ("0xg", "0xg"),
    ("20240102", 20240102),
    # floats
    ("1e3", 1000.0), ("1E3", 1000.0), ("1e+3", 1000.0), ("1.0e-3", 0.001), (".5", 0.5),
    ("-.5", -0.5), ("+.5", 0.5), ("5.", 5.0), ("0.", 0.0), ("01.5", 1.5), ("-0.0", -0.0),
    ("1_000.000_1", 1000.0001), ("685.230_15e+03", 685230.15), ("1.7976931348623157e+309",
     math.inf), ("1e", "1e"), ("1.2.3", "1.2.3"), ("inf", "inf"), ("nan", "nan"),
    (".inf", math.inf), (".Inf", math.inf), ("-.inf", -math.inf), ("+.INF", math.inf),
    (".nan", math.nan), (".NaN", math.nan), (".NAN", math.nan), ("-.nan", "-.nan"),
    # nulls
    ("~", None), ("null", None), ("Null", None), ("NULL", None), ("nULL", "nULL"),
    # timestamps: dates, naive datetimes, and ruamel's TimeStamp with a 'T' or a zone
    ("2024-01-02", dt.date(2024, 1, 2)),
    ("2024-1-2 3:04:05", dt.datetime(2024, 1, 2, 3, 4, 5)),
    ("2024-01-02T10:11:12", dt.datetime(2024, 1, 2, 10, 11, 12)),
    ("2024-01-02t10:11:12.5Z", dt.datetime(2024, 1, 2, 10, 11, 12, 500000, UTC)),
    ("2024-01-02 10:11:12.1234567 +05:30", dt.datetime(2024, 1, 2, 10, 11, 12, 123457,
                                                        PLUS_0530)),
    ("2001-12-14 21:59:43.10 -5", dt.datetime(2001, 12, 14, 21, 59, 43, 100000, MINUS_5)),
    ("2024-01-02T10:11", "2024-01-02T10:11"),
    # strings that look like something else
    ("12:30", "12:30"), ("1.2.3.4", "1.2.3.4"), ("-a", "-a"), ("50%", "50%"),
    ("http://example.com:8080/x?q=1#f", "http://example.com:8080/x?q=1#f"), ("a@b", "a@b"),
]


@pytest.mark.parametrize(("scalar", "expected"), SCALARS, ids=[s for s, _ in SCALARS])
def test_scalar_resolves_as_ruamel_does(scalar: str, expected: Any) -> None:
    texts = [f"v: {scalar}\n", f"{scalar}: v\n", f"v: [{scalar}, x]\n", f"- {scalar}\n"]
    for text in texts:
        assert answered_like_ruamel(text), f"fast path declined {text!r}"
    fast = parse_fast(texts[0])
    assert fast is not None
    value = fast.data["v"]
    if isinstance(expected, float) and math.isnan(expected):
        assert isinstance(value, float)
        assert math.isnan(value)
    else:
        assert value == expected
        assert isinstance(value, type(expected))
        assert not isinstance(value, bool) or isinstance(expected, bool)


@pytest.mark.parametrize("scalar", [s for s, _ in SCALARS[::4]])
def test_quoted_scalars_stay_strings(scalar: str) -> None:
    for text in [f"v: '{scalar}'\n", f'v: "{scalar}"\n', f"v: |-\n  {scalar}\n"]:
        assert answered_like_ruamel(text)
        fast = parse_fast(text)
        assert fast is not None
        assert fast.data == {"v": scalar}


# --- structure --------------------------------------------------------------------------

STRUCTURES = [
    "",
    "# only a comment\n",
    "---\n",
    "---\na: 1\n...\n",
    "--- |\n  top literal\n",
    "\ufeffa: 1\n",
    "a: |\r\n  x\r\n  y\r\nb: 2\r\n",
    "a:\nb: ~\nc: [~, null, ]\nd: {e: , f: ~}\ne: ''\nf: \"\"\n",
    "a: |\n  one\n  two\n\nb: |-\n  keep\n   indented\nc: |+\n  trailing\n\n\nd: |2\n   x\n",
    "a: >\n  folded\n  text\n\n  para\n\n    more indented\n  back\nb: >-\n  x\n  y\n",
    "plain: this is\n  a multi-line\n\n  plain scalar\nq: 'it''s\n  multi'\n",
    'd: "esc \\t \\n \\u00e9 \\x41 \\" \\\\"\ne: "line\\\n  continued"\n',
    "u: héllo wörld ✓ 😀 日本語\n'k é': \"v\"\n",
    "- [a, {b: c}, [d, e]]\n- {x: 1, y: [2, 3], 'z': q}\n- ? complex\n  : key\n",
    "? |\n  block key\n: v\n1: int key\n1.5: float key\nfalse: bool key\n~: null key\n",
    "list:\n- a\n- b\nnested:\n  - - x\n    - y\n  -\n    - z\n",
    "url: http://h:1/p\nglob: services/*\nref: '*x'\namp: R & D\nbang: hi!\nhash: a#b\n",
]


@pytest.mark.parametrize("text", STRUCTURES)
def test_structure_reads_as_ruamel_does(text: str) -> None:
    assert answered_like_ruamel(text), f"fast path declined {text!r}"


# --- what stays with ruamel -------------------------------------------------------------

DECLINED = {
    "duplicate key": "a: 1\nb: 2\na: 3\n",
    "duplicate in flow": "x: {a: 1, a: 2}\n",
    "equal keys of two types": "1: a\n1.0: b\n",
    "two .nan keys": ".nan: 1\n.nan: 2\n",
    "anchor": "a: &x true\n",  # ruamel's data has 1 here, not True
    "alias": "a: &x {b: 1}\nc: *x\n",
    "merge key": "a: &x {b: 1}\nc:\n  <<: *x\n",
    "plain <<": "a: <<\n",
    "plain =": "a: =\n",
    "explicit tag": "a: !!str 1\n",
    "non-specific tag": "a: ! 1\n",  # ruamel resolves it as plain: 1
    "local tag": "a: !local x\n",
    "tagged mapping": "!!map {a: 1}\n",
    "YAML 1.1 directive": "%YAML 1.1\n---\na: yes\n",
    "TAG directive": "%TAG !e! tag:e.com,2000:\n---\na: 1\n",
    "several documents": "a: 1\n---\nb: 2\n",
    "tab separator": "a:\tb\n",  # ruamel rejects what libyaml accepts
    "tab in a quoted string": 'a: "x\ty"\n',
    "sequence as key": "[a, b]: 1\n",
    "mapping as key": "{a: 1}: 2\n",
    "line separator": "a: x\u2028y\n",
    "unclosed flow": "a: [1, 2\n",
    "unclosed quote": "a: 'x\n",
    "bad escape": 'a: "\\q"\n',
    "bad indentation": "a:\n  b: 1\n c: 2\n",
    "mapping in plain value": "a: b: c\n",
    "reserved character": "a: @x\n",
    "control character": "a: '\x7f'\n",
    "missing key": ": v\n",
    "undefined alias": "a: *x\n",
}

# Texts ruamel's constructor fails on with a Python error (not a YAML problem).
RUAMEL_FAILS = {
    "impossible date": "d: 2024-13-01\n",
    "float without digits": "a: ._\n",
    "hex without digits": "a: 0x_\n",
}


@pytest.mark.parametrize("text", [*DECLINED.values(), *RUAMEL_FAILS.values()],
                         ids=[*DECLINED, *RUAMEL_FAILS])
def test_left_to_ruamel(text: str) -> None:
    assert parse_fast(text) is None


def test_duplicates_reported_where_ruamel_reports_them(write: Writer, tmp_path: Path) -> None:
    path = write(
        "lcdev.yaml",
        """\
        name: shop
        secrets: {a: {env: X}, b: {env: Y}, a: {env: Z}}
        ports:
          postgres: 1
          kafka: 2
          postgres: 3
        """,
    )
    assert [str(p) for p in load_model(path, WorkspaceDefinition, root=tmp_path)[1]] == [
        "lcdev.yaml:2:37: duplicate key 'a' (first defined on line 2)",
        "lcdev.yaml:6:3: duplicate key 'postgres' (first defined on line 4)",
    ]


@pytest.mark.parametrize("text", DECLINED.values(), ids=DECLINED.keys())
def test_problems_and_data_are_ruamel_s(text: str, tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text(text, encoding="utf-8")
    doc, problems = load_document(path, root=tmp_path)
    expected_doc, expected = _parse_round_trip(path, Path("x.yaml"), text)
    assert problems == expected
    assert typed(doc and doc.data) == typed(expected_doc and expected_doc.data)


# --- the repository's own YAML and the YAML of the definitions tests ---------------------


def test_repository_yaml_takes_the_fast_path(tmp_path: Path) -> None:
    files = sorted((REPO / "stacks").glob("*.yaml")) + sorted(REPO.glob("scaffolds/**/*.yaml"))
    for template in available_templates():
        root = tmp_path / template.name
        variables = {"name": template.name, "gateway_port": 0, "postgres_port": 0,
                     "kafka_port": 0}
        render_workspace(root, template.name, variables)
        files += sorted(root.rglob("*.yaml"))
    assert len(files) >= 7
    for path in files:
        assert answered_like_ruamel(path.read_text(encoding="utf-8")), path


def _test_texts() -> list[str]:
    """Every multi-line string literal of the definitions tests, dedented as ``write`` does."""
    texts = []
    for module in sorted(Path(__file__).parent.glob("test_*.py")):
        for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
            value = node.value if isinstance(node, ast.Constant) else None
            if isinstance(value, str) and "\n" in value:
                texts.append(textwrap.dedent(value))
    return texts


def test_definitions_tests_yaml_reads_as_ruamel_does() -> None:
    texts = _test_texts()
    answered = [text for text in texts if answered_like_ruamel(text)]
    assert len(texts) >= 50
    assert len(answered) >= len(texts) // 2


# --- positions: the round-trip tree is parsed only when asked for ------------------------


def _locs(data: Any, prefix: Loc = ()) -> list[Loc]:
    found = [prefix]
    if isinstance(data, dict):
        for key, value in data.items():
            found += _locs(value, (*prefix, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            found += _locs(value, (*prefix, index))
    return [*found, (*prefix, "missing"), (*prefix, 99)]


def test_positions_from_lazy_tree_match_an_eager_parse(tmp_path: Path) -> None:
    services = REPO / "scaffolds" / "workspace-shop" / "services"
    for path in sorted(services.glob("*/service.yaml")):
        doc, problems = load_document(path, root=REPO)
        assert doc is not None
        assert problems == []
        assert "tree" not in vars(doc), "a valid file should not pay for ruamel"
        eager, _ = _parse_round_trip(path, doc.shown_path, doc.text)
        assert eager is not None
        for loc in _locs(doc.data):
            for at_key in (False, True):
                assert doc.position(loc, at_key=at_key) == eager.position(loc, at_key=at_key)
        assert "tree" in vars(doc)


def test_problem_on_a_fast_document(write: Writer, tmp_path: Path) -> None:
    path = write("lcdev.yaml", "name: shop\ngateway:\n  port: eighty\n")
    model, problems = load_model(path, WorkspaceDefinition, root=tmp_path)
    assert model is None
    assert [str(p) for p in problems] == [
        "lcdev.yaml:3:9: expected an integer, found 'eighty' (a string)"
    ]


def test_cached_document_keeps_its_tree(write: Writer, tmp_path: Path) -> None:
    path = write("lcdev.yaml", "name: shop\nstack: default\n")
    first, _ = load_document(path, root=tmp_path)
    again, _ = load_document(path, root=tmp_path)
    assert isinstance(first, YamlDocument)
    assert again is first
    assert first.position(("stack",)) == (2, 8)
    tree = first.tree
    assert load_document(path, root=tmp_path)[0] is first
    assert first.tree is tree
    path.write_text("name: shop\n\nstack: other\n", encoding="utf-8")
    changed, _ = load_document(path, root=tmp_path)
    assert changed is not None
    assert changed is not first
    assert changed.position(("stack",)) == (3, 8)
