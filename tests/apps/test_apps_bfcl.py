"""BfclApp: calls, validation, error results, hidden tools."""

from __future__ import annotations

import decimal
import json

import pytest

from apps import App, BfclApp, ToolResultError, demo_scenario, error_text, make_bfcl_app
from core.errors import ToolError, UnknownAgentError


@pytest.fixture
def states() -> dict[str, dict[str, object]]:
    return demo_scenario().apps


def test_bfcl_app_is_an_app(states: dict[str, dict[str, object]]) -> None:
    app = make_bfcl_app("travel", states["travel"])
    assert isinstance(app, App)
    assert app.name == "travel"
    assert "flight" in app.description
    assert app.notes.startswith("- ")
    assert type(app.instance).__name__ == "TravelAPI"


def test_unknown_app_lists_the_known_ones() -> None:
    with pytest.raises(UnknownAgentError, match="known apps: file_system, math"):
        make_bfcl_app("weather")


def test_call_with_valid_args(states: dict[str, dict[str, object]]) -> None:
    fs = make_bfcl_app("file_system", states["file_system"])
    assert fs.call("ls", {}) == {"current_directory_content": ["documents", "photos", "todo.txt"]}
    assert fs.call("cd", {"folder": "documents"}) == {"current_working_directory": "documents"}
    assert fs.call("wc", {"file_name": "trip_plan.txt", "mode": "l"}) == {
        "count": 4,
        "type": "lines",
    }
    assert fs.last_call_error is None
    math = make_bfcl_app("math")
    assert math.call("add", {"a": 2, "b": 3.5}) == {"result": 5.5}


def test_state_is_copied_not_aliased(states: dict[str, dict[str, object]]) -> None:
    state = json.loads(json.dumps(states["tickets"]))
    app = make_bfcl_app("tickets", state)
    app.call("ticket_login", {"username": "alice", "password": "pw"})
    app.call("close_ticket", {"ticket_id": 1})
    assert state == states["tickets"]


@pytest.mark.parametrize(
    ("tool", "args", "match"),
    [
        ("teleport", {}, "unknown tool 'teleport' for app travel; available: authenticate_travel"),
        ("get_flight_cost", {"travel_from": "SFO"}, "'travel_to' is a required property"),
        (
            "get_flight_cost",
            {"travel_from": 1, "travel_to": "LAX", "travel_date": "d", "travel_class": "x"},
            "travel_from: 1 is not of type 'string'",
        ),
        ("list_all_airports", {"verbose": True}, "Additional properties are not allowed"),
        ("set_budget_limit", {"access_token": "t", "budget_limit": "lots"}, "budget_limit"),
    ],
)
def test_bad_calls_raise_tool_error(
    states: dict[str, dict[str, object]], tool: str, args: dict[str, object], match: str
) -> None:
    app = make_bfcl_app("travel", states["travel"])
    before = app.snapshot()
    with pytest.raises(ToolError, match=match):
        app.call(tool, args)
    assert app.snapshot() == before


def test_arguments_must_be_an_object() -> None:
    with pytest.raises(ToolError, match="must be a JSON object"):
        make_bfcl_app("math").call("add", [1, 2])  # type: ignore[arg-type]


def test_error_dict_raises_tool_result_error(states: dict[str, dict[str, object]]) -> None:
    posting = make_bfcl_app("posting", {**states["posting"], "authenticated": False})
    with pytest.raises(ToolResultError, match="User not authenticated") as info:
        posting.call("post_tweet", {"content": "hi"})
    assert isinstance(info.value, ToolError)
    assert info.value.result == {
        "error": "User not authenticated. Please authenticate before posting."
    }
    assert posting.last_call_error == info.value.result["error"]
    posting.call("authenticate_twitter", {"username": "alice_travels", "password": "Sunny#2024"})
    assert posting.last_call_error is None


def test_error_with_false_status_is_an_error(states: dict[str, dict[str, object]]) -> None:
    travel = make_bfcl_app("travel", states["travel"])
    token = travel.call(
        "authenticate_travel",
        {
            "client_id": "c",
            "client_secret": "s",
            "refresh_token": "r",
            "grant_type": "read_write",
            "user_first_name": "Alice",
            "user_last_name": "Smith",
        },
    )["access_token"]
    args = {
        "access_token": token,
        "card_id": "000",
        "travel_date": "2024-11-15",
        "travel_from": "SFO",
        "travel_to": "LAX",
        "travel_class": "economy",
    }
    with pytest.raises(ToolResultError, match="Card not registered") as info:
        travel.call("book_flight", args)
    assert info.value.result == {"booking_status": False, "error": "Card not registered"}


def test_error_results_can_be_returned_instead(states: dict[str, dict[str, object]]) -> None:
    tickets = make_bfcl_app("tickets", states["tickets"], raise_error_results=False)
    result = tickets.call("get_user_tickets", {})
    assert result == [{"error": "User not authenticated. Please log in to view tickets."}]
    assert tickets.last_call_error == "User not authenticated. Please log in to view tickets."


def test_exception_in_tool_becomes_tool_error(states: dict[str, dict[str, object]]) -> None:
    travel = make_bfcl_app("travel", states["travel"])
    args = {"travel_from": "SFO", "travel_to": "XYZ", "travel_date": "2024-11-15"}
    with pytest.raises(ToolError, match="No available route for the given airports"):
        travel.call("get_flight_cost", {**args, "travel_class": "economy"})
    assert travel.last_call_error == "No available route for the given airports."


@pytest.mark.parametrize(
    ("result", "expected"),
    [
        ({"error": "boom"}, "boom"),
        ({"error": 404}, "404"),
        ({"cancel_status": False, "error": "Token expired"}, "Token expired"),
        ([{"error": "no login"}], "no login"),
        (["Error: User not authenticated."], "Error: User not authenticated."),
        ({"status": "ok"}, None),
        ({"error": None}, None),
        ({"metadata": "x", "error": "Invalid option"}, None),
        ([1, 2], None),
        ("error", None),
    ],
)
def test_error_text(result: object, expected: str | None) -> None:
    assert error_text(result) == expected


def test_results_are_json_and_do_not_alias_state(states: dict[str, dict[str, object]]) -> None:
    trading = make_bfcl_app("trading", states["trading"])
    trading.call("trading_login", {"username": "alice", "password": "x"})
    info = trading.call("get_account_info", {})
    info["balance"] = 0
    assert trading.instance.account_info["balance"] == 15000.0
    history = trading.call("get_order_history", {})
    assert history == {"history": [1001, 1002]}
    json.dumps(history)


def test_arguments_and_mutable_defaults_are_not_shared(
    states: dict[str, dict[str, object]],
) -> None:
    posting = make_bfcl_app("posting", states["posting"])
    tags = ["#trip"]
    first = posting.call("post_tweet", {"content": "one", "tags": tags})
    tags.append("#changed")
    assert posting.instance.tweets[first["id"]]["tags"] == ["#trip"]
    a = posting.call("post_tweet", {"content": "a"})
    b = posting.call("post_tweet", {"content": "b"})
    posting.call("mention", {"tweet_id": a["id"], "mentioned_usernames": ["@bob"]})
    assert posting.instance.tweets[a["id"]]["mentions"] == ["@bob"]
    assert posting.instance.tweets[b["id"]]["mentions"] == []
    assert type(posting.instance).post_tweet.__defaults__ == ([], [])


def test_precision_changes_do_not_leak() -> None:
    import mpmath

    math = make_bfcl_app("math")
    prec, dps = decimal.getcontext().prec, mpmath.mp.dps
    root = math.call("square_root", {"number": 2, "precision": 30})
    assert root["result"] == "1.41421356237309504880168872421"
    log = math.call("logarithm", {"value": 8, "base": 2, "precision": 5})
    assert log == {"result": 3.0}
    assert (decimal.getcontext().prec, mpmath.mp.dps) == (prec, dps)


def test_hidden_tools(states: dict[str, dict[str, object]]) -> None:
    fs = make_bfcl_app("file_system", states["file_system"])
    fs.set_hidden_tools(["cat", "book_flight"])  # names of other apps are ignored
    assert fs.hidden_tools == {"cat"}
    assert "cat" not in {t.name for t in fs.tools}
    assert "cat" in {t.name for t in fs.all_tools}
    with pytest.raises(ToolError, match="unknown tool 'cat'"):
        fs.call("cat", {"file_name": "todo.txt"})
    fs.set_hidden_tools([])
    assert fs.call("cat", {"file_name": "todo.txt"})["file_content"].startswith("Book flight")


def test_factories_build_every_app(states: dict[str, dict[str, object]]) -> None:
    from apps import bfcl_factories

    factories = bfcl_factories()
    for name, state in states.items():
        app = factories[name](state)
        assert isinstance(app, BfclApp)
        assert app.name == name


def test_import_apps_does_not_import_bfcl_eval_or_jsonschema() -> None:
    import subprocess
    import sys

    code = (
        "import sys, apps; "
        "bad = [m for m in sys.modules if m.split('.')[0] in ('bfcl_eval', 'jsonschema')]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
