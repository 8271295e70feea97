"""Snapshots: the tagged codec, and an exact round trip for every BFCL app."""

from __future__ import annotations

import datetime as dt
import json
import random
from typing import Any

import pytest

from apps import BfclApp, demo_scenario, make_bfcl_app
from apps.codec import decode_state, encode_state, to_jsonable
from core.errors import ToolError
from tests.apps.bfcl_replay import comparable

LOGIN_TRAVEL = {
    "client_id": "c",
    "client_secret": "s",
    "refresh_token": "r",
    "grant_type": "read_write",
    "user_first_name": "Alice",
    "user_last_name": "Smith",
}

# A few real actions per app, chosen to touch every kind of state (ids, Random, datetimes,
# int keys, shared file-system nodes).
ACTIONS: dict[str, list[tuple[str, dict[str, Any]]]] = {
    "file_system": [
        ("mkdir", {"dir_name": "backup"}),
        ("cd", {"folder": "documents"}),
        ("touch", {"file_name": "notes.md"}),
        ("echo", {"content": "LA trip", "file_name": "notes.md"}),
        ("cd", {"folder": ".."}),
        ("cp", {"source": "documents", "destination": "backup"}),
        ("mv", {"source": "todo.txt", "destination": "tasks.txt"}),
        ("cd", {"folder": "backup"}),
    ],
    "math": [("add", {"a": 1, "b": 2})],
    "messaging": [
        ("send_message", {"receiver_id": "USR002", "message": "Itinerary coming"}),
        ("add_contact", {"user_name": "Eve"}),
        ("delete_message", {"receiver_id": "USR003"}),
    ],
    "posting": [
        ("post_tweet", {"content": "Off to LA", "tags": ["#travel"]}),
        ("comment", {"tweet_id": 1, "comment_content": "Me!"}),
        ("retweet", {"tweet_id": 1}),
        ("follow_user", {"username_to_follow": "dan"}),
    ],
    "tickets": [
        ("ticket_login", {"username": "alice", "password": "pw"}),
        ("create_ticket", {"title": "Laptop slow", "priority": 2}),
        ("close_ticket", {"ticket_id": 1}),
        ("edit_ticket", {"ticket_id": 3, "updates": {"priority": 4}}),
    ],
    "trading": [
        ("trading_login", {"username": "alice", "password": "pw"}),
        ("place_order", {"order_type": "Buy", "symbol": "NVDA", "price": 220.0, "amount": 5}),
        ("fund_account", {"amount": 500.0}),
        ("withdraw_funds", {"amount": 100.0}),
        ("cancel_order", {"order_id": 1002}),
    ],
    "travel": [
        ("authenticate_travel", LOGIN_TRAVEL),
        (
            "get_flight_cost",
            {
                "travel_from": "SFO",
                "travel_to": "LAX",
                "travel_date": "2024-11-15",
                "travel_class": "economy",
            },
        ),
    ],
    "vehicle": [
        ("lockDoors", {"unlock": False, "door": ["driver", "passenger"]}),
        ("pressBrakePedal", {"pedalPosition": 1.0}),
        ("startEngine", {"ignitionMode": "START"}),
        ("get_current_speed", {}),
        ("setCruiseControl", {"speed": 65, "activate": True, "distanceToNextVehicle": 40}),
    ],
}

# One more call whose result depends on the hidden state (random generators, counters).
PROBES: dict[str, tuple[str, dict[str, Any]]] = {
    "file_system": ("pwd", {}),
    "math": ("mean", {"numbers": [1, 2]}),
    "messaging": ("send_message", {"receiver_id": "USR001", "message": "x"}),
    "posting": ("post_tweet", {"content": "again"}),
    "tickets": ("create_ticket", {"title": "again"}),
    "trading": ("fund_account", {"amount": 1.0}),
    "travel": ("authenticate_travel", LOGIN_TRAVEL),
    "vehicle": ("get_current_speed", {}),
}


def acted(name: str) -> BfclApp:
    app = make_bfcl_app(name, demo_scenario().apps[name])
    for tool, args in ACTIONS[name]:
        app.call(tool, args)
    return app


@pytest.mark.parametrize("name", list(ACTIONS))
def test_round_trip_restores_exact_state(name: str) -> None:
    original = acted(name)
    snap = json.loads(json.dumps(original.snapshot(), allow_nan=False))
    restored = make_bfcl_app(name)  # default state, overwritten by restore
    restored.restore(snap)
    assert vars(restored.instance).keys() == vars(original.instance).keys()
    assert comparable(vars(restored.instance)) == comparable(vars(original.instance))
    for key, value in vars(original.instance).items():
        if not isinstance(value, random.Random):
            assert getattr(restored.instance, key) == value, key
    tool, args = PROBES[name]
    assert restored.call(tool, args) == original.call(tool, args)
    assert restored.snapshot() == original.snapshot()


@pytest.mark.parametrize("name", list(ACTIONS))
def test_restore_in_place_undoes_later_actions(name: str) -> None:
    app = acted(name)
    snap = app.snapshot()
    before = comparable(vars(app.instance))
    tool, args = PROBES[name]
    app.call(tool, args)
    app.restore(snap)
    assert comparable(vars(app.instance)) == before


def test_file_system_restore_keeps_tree_links() -> None:
    original = acted("file_system")
    restored = make_bfcl_app("file_system")
    restored.restore(original.snapshot())
    fs = restored.instance
    backup = fs.root.contents["backup"]
    assert fs._current_dir is backup
    assert backup.parent is fs.root
    copied = backup.contents["documents"]
    assert copied.contents["notes.md"] is fs.root.contents["documents"].contents["notes.md"]
    assert restored.call("pwd", {}) == original.call("pwd", {})
    restored.call("cd", {"folder": ".."})
    assert restored.call("ls", {})["current_directory_content"] == [
        "documents",
        "photos",
        "backup",
        "tasks.txt",
    ]


def test_restore_keeps_hidden_tools_and_rejects_other_apps() -> None:
    app = acted("tickets")
    app.set_hidden_tools(["logout"])
    snap = app.snapshot()
    other = make_bfcl_app("tickets")
    other.restore(snap)
    assert other.hidden_tools == {"logout"}
    with pytest.raises(ValueError, match="not a snapshot of TravelAPI"):
        make_bfcl_app("travel").restore(snap)
    with pytest.raises(ToolError):
        other.call("logout", {})


def test_codec_round_trips_python_values() -> None:
    shared: list[int] = [1]
    rng = random.Random(7)
    rng.random()
    value = {
        "ints": {1: "a", 2: "b"},
        "set": {3, 4},
        "frozen": frozenset({"x"}),
        "tuple": (1, (2, 3)),
        "when": dt.datetime(2024, 11, 15, 9, 30, 1, 5),
        "day": dt.date(2024, 1, 2),
        "gap": dt.timedelta(days=1, seconds=2),
        "nan": float("inf"),
        "rng": rng,
        "a": shared,
        "b": shared,
        "$t": "a key that looks like a tag",
    }
    data = encode_state(value)
    text = json.dumps(data, allow_nan=False)
    back = decode_state(json.loads(text))
    assert back["rng"].getstate() == rng.getstate()
    assert back["a"] is back["b"]
    back.pop("rng")
    value.pop("rng")
    assert back == value


def test_codec_keeps_cycles_and_refuses_unknown_objects() -> None:
    class Node:
        def __init__(self, name: str) -> None:
            self.name = name
            self.peer: Node | None = None

    a, b = Node("a"), Node("b")
    a.peer, b.peer = b, a
    back = decode_state(encode_state([a, b], {"Node": Node}), {"Node": Node})
    assert back[0].peer is back[1] and back[1].peer is back[0]
    with pytest.raises(TypeError, match="cannot encode"):
        encode_state({"node": a})
    with pytest.raises(ValueError, match="not allowed"):
        decode_state({"$t": "obj", "cls": "Node", "v": {}})


def test_to_jsonable() -> None:
    assert to_jsonable({1: {2, 1}, "t": (1, dt.date(2024, 1, 1))}) == {
        "1": [1, 2],
        "t": [1, "2024-01-01"],
    }
