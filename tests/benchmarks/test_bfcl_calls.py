"""BFCL call strings: safe parsing of the ground truth, safe formatting of recorded calls."""

from __future__ import annotations

import pytest

from benchmarks.bfcl import CallFormatError, CallParseError, format_call, parse_call
from benchmarks.bfcl.data import CATEGORIES, load_tasks, parse_ground_truth

PARAMS = {"sort": ["file_name"], "mv": ["source", "destination"], "send": ["to", "body", "meta"]}


@pytest.mark.parametrize(
    ("text", "tool", "args"),
    [
        ("cd(folder='document')", "cd", {"folder": "document"}),
        ("sort('final_report.pdf')", "sort", {"file_name": "final_report.pdf"}),
        ("mv('a.txt', destination='b')", "mv", {"source": "a.txt", "destination": "b"}),
        ("ls()", "ls", {}),
        (
            "send(to=['ann', 'bob'], body={'x': [1, 2.5, None, True]}, meta=-3)",
            "send",
            {"to": ["ann", "bob"], "body": {"x": [1, 2.5, None, True]}, "meta": -3},
        ),
        ("send(to=('a', 'b'))", "send", {"to": ["a", "b"]}),
    ],
)
def test_parse_call(text: str, tool: str, args: dict[str, object]) -> None:
    params = {**PARAMS, "cd": ["folder"], "ls": ["a"]}
    call = parse_call(text, params)
    assert (call.tool, call.args) == (tool, args)


@pytest.mark.parametrize(
    "text",
    [
        "cd(folder=open('x'))",  # a call inside
        "cd(folder=x)",  # a name
        "cd(folder=__import__('os').system('true'))",
        "os.system('ls')",  # not a plain name
        "cd(folder='a') + 1",  # not a call
        "cd(*['a'])",
        "cd(**{'folder': 'a'})",
        "cd(folder={1, 2})",  # a set
        "cd(folder={1: 'a'})",  # non-string key
        "cd(folder=1+2j)",  # complex
        "cd(folder='a'",  # syntax
        "cd(folder=lambda: 1)",
    ],
)
def test_parse_call_rejects_non_literals(text: str) -> None:
    with pytest.raises(CallParseError):
        parse_call(text, {"cd": ["folder"], "system": ["command"]})


def test_parse_call_checks_the_signature() -> None:
    with pytest.raises(CallParseError, match="unknown tool"):
        parse_call("rm('x')", PARAMS)
    with pytest.raises(CallParseError, match="no argument"):
        parse_call("sort(name='x')", PARAMS)
    with pytest.raises(CallParseError, match="more"):
        parse_call("sort('a', 'b')", PARAMS)
    with pytest.raises(CallParseError, match="twice"):
        parse_call("sort('a', file_name='b')", PARAMS)
    with pytest.raises(CallParseError, match="positional"):
        parse_call("sort('a')")


def test_format_call_round_trips() -> None:
    args = {"content": 'it\'s "quoted"\nline)', "n": -0.5, "xs": [1, {"k": None}], "ok": False}
    text = format_call("echo", args)
    assert text.startswith("echo(content=")
    assert parse_call(text).args == args


@pytest.mark.parametrize(
    ("tool", "args"),
    [
        ("echo; import os", {}),
        ("echo", {"bad key": 1}),
        ("echo", {"x": float("inf")}),
        ("echo", {"x": float("nan")}),
        ("echo", {"x": {1, 2}}),
        ("echo", {"x": object()}),
        ("class", {}),
    ],
)
def test_format_call_refuses_unsafe_input(tool: str, args: dict[str, object]) -> None:
    with pytest.raises(CallFormatError):
        format_call(tool, args)


@pytest.mark.parametrize("category", CATEGORIES)
def test_every_ground_truth_call_parses_and_formats_back(category: str) -> None:
    for task in load_tasks(category):
        for turn in task.ground_truth:
            for text in turn:
                call = parse_ground_truth(text)
                assert parse_ground_truth(format_call(call.tool, call.args)) == call
