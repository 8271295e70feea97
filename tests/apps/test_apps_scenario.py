"""Scenarios, the World, and the demo scenario (including its instruction, done by hand)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from apps import BFCL_APPS, World, bfcl_factories, demo_scenario, load_scenario
from apps.base import App
from core.errors import ScenarioError, ToolError, UnknownAgentError

KNOWN = list(BFCL_APPS)


def write(tmp_path: Path, content: str) -> Path:
    path = tmp_path / "world.json"
    path.write_text(content, encoding="utf-8")
    return path


def test_load_scenario(tmp_path: Path) -> None:
    path = write(tmp_path, json.dumps({"name": "t", "apps": {"math": {}, "tickets": {}}}))
    scenario = load_scenario(path, KNOWN)
    assert scenario.name == "t"
    assert scenario.instruction is None
    assert scenario.apps == {"math": {}, "tickets": {}}


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match=r"scenario file .*nope\.json not found"):
        load_scenario(tmp_path / "nope.json", KNOWN)


def test_bad_json(tmp_path: Path) -> None:
    path = write(tmp_path, '{"name": "t",\n "apps": }')
    with pytest.raises(ScenarioError, match=r"world\.json: not valid JSON: .* line 2 column"):
        load_scenario(path, KNOWN)


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ({"name": "t", "apps": {"math": []}}, r"apps\.math: Input should be a valid dictionary"),
        ({"name": "t"}, r"apps: Field required"),
        ({"name": "t", "apps": {}, "colour": "red"}, r"colour: Extra inputs are not permitted"),
        ({"name": 3, "apps": {}}, r"name: Input should be a valid string"),
        ([1, 2], r"\(top level\)|Input should be"),
    ],
)
def test_wrong_types(tmp_path: Path, data: Any, match: str) -> None:
    path = write(tmp_path, json.dumps(data))
    with pytest.raises(ScenarioError, match=match) as info:
        load_scenario(path, KNOWN)
    assert "\n" not in str(info.value)
    assert str(path) in str(info.value)


def test_unknown_app_lists_known_names(tmp_path: Path) -> None:
    path = write(tmp_path, json.dumps({"name": "t", "apps": {"weather": {}}}))
    with pytest.raises(UnknownAgentError, match="unknown app 'weather'; known apps: file_system"):
        load_scenario(path, KNOWN)


def test_demo_scenario_has_all_apps_and_an_instruction() -> None:
    demo = demo_scenario()
    assert set(demo.apps) == set(BFCL_APPS)
    assert demo.instruction and "SFO" in demo.instruction


def test_world_build_snapshot_restore() -> None:
    world = World.build(demo_scenario(), bfcl_factories())
    assert world.names == list(BFCL_APPS)
    assert len(world) == 8 and "travel" in world and list(world) == world.names
    assert isinstance(world["math"], App)
    assert world.apps["math"] is world.get("math")
    states = world.snapshot()
    json.dumps(states, allow_nan=False)
    world.get("tickets").call("ticket_login", {"username": "bob", "password": "pw"})
    world.restore({"tickets": states["tickets"]})
    assert world.snapshot() == states
    with pytest.raises(UnknownAgentError, match="this world has: file_system, math"):
        world.get("weather")
    with pytest.raises(UnknownAgentError):
        world.restore({"weather": {}})


def test_world_build_with_unknown_factory() -> None:
    with pytest.raises(UnknownAgentError, match="no factory builds; known apps: math"):
        World.build(demo_scenario(), {"math": bfcl_factories()["math"]})


async def test_world_locks_serialise_per_app() -> None:
    world = World.build(demo_scenario(), bfcl_factories())
    assert world.lock("travel") is world.lock("travel")
    assert world.lock("travel") is not world.lock("posting")
    with pytest.raises(UnknownAgentError):
        world.lock("weather")
    order: list[str] = []

    async def work(tag: str) -> None:
        async with world.lock("travel"):
            order.append(f"{tag}-in")
            await asyncio.sleep(0)
            order.append(f"{tag}-out")

    await asyncio.gather(work("a"), work("b"))
    assert order == ["a-in", "a-out", "b-in", "b-out"]


def test_demo_instruction_is_achievable_with_the_tools() -> None:
    """Book the cheapest SFO->LAX flight on 2024-11-15, then tweet the booking id."""
    world = World.build(demo_scenario(), bfcl_factories())
    travel, posting = world.get("travel"), world.get("posting")

    token = travel.call(
        "authenticate_travel",
        {
            "client_id": "steward",
            "client_secret": "secret",
            "refresh_token": "refresh",
            "grant_type": "read_write",
            "user_first_name": "Alice",
            "user_last_name": "Smith",
        },
    )["access_token"]
    cards = travel.call("get_all_credit_cards", {})["credit_card_list"]
    card_id = next(iter(cards))
    trip = {"travel_from": "SFO", "travel_to": "LAX", "travel_date": "2024-11-15"}
    costs = {
        cls: travel.call("get_flight_cost", {**trip, "travel_class": cls})["travel_cost_list"][0]
        for cls in ("economy", "business", "first")
    }
    cheapest = min(costs, key=costs.__getitem__)
    assert cheapest == "economy"
    booking = travel.call(
        "book_flight",
        {"access_token": token, "card_id": card_id, **trip, "travel_class": cheapest},
    )
    assert booking["booking_status"] is True
    booking_id = booking["booking_id"]

    assert posting.call("posting_get_login_status", {}) == {"login_status": True}
    tweet = posting.call(
        "post_tweet", {"content": f"Booked my SFO to LAX flight! Booking id: {booking_id}"}
    )
    assert booking_id in tweet["content"]

    state = world.snapshot()
    assert booking_id in json.dumps(state["travel"])
    assert posting.call("search_tweets", {"keyword": booking_id})[0]["id"] == tweet["id"]
    balance = travel.call("get_credit_card_balance", {"access_token": token, "card_id": card_id})
    assert balance == {"card_balance": 2500.0 - costs["economy"]}


def test_demo_instruction_fails_without_travel_login() -> None:
    travel = World.build(demo_scenario(), bfcl_factories()).get("travel")
    with pytest.raises(ToolError, match="Invalid access token"):
        travel.call(
            "book_flight",
            {
                "access_token": "guess",
                "card_id": "144756014165",
                "travel_date": "2024-11-15",
                "travel_from": "SFO",
                "travel_to": "LAX",
                "travel_class": "economy",
            },
        )
