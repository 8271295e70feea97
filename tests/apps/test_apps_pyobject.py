"""PythonApp: any object's public methods as tools."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any, Literal

import pytest
from jsonschema import Draft202012Validator
from pydantic import BaseModel

from apps import App, PythonApp, World
from apps.pyobject import parse_docstring
from core.errors import ToolError


class Place(BaseModel):
    city: str
    country: str = "FR"


class Weather:
    """Weather forecasts for cities."""

    def __init__(self) -> None:
        self.calls = 0
        self.history: dict[int, str] = {}
        self.seen: set[str] = set()
        self._rng = random.Random(3)

    def forecast(self, city: str, days: int = 1) -> dict[str, Any]:
        """Forecast for a city.

        Args:
            city: City name, e.g. "Paris".
            days (int): How many days ahead,
                from 1 to 5.
        """
        if days > 5:
            raise ValueError("at most 5 days ahead")
        self.calls += 1
        self.history[self.calls] = city
        self.seen.add(city)
        return {"city": city, "temps": [round(self._rng.uniform(10, 20), 1) for _ in range(days)]}

    def units(self, system: Literal["metric", "imperial"] = "metric") -> str:
        """Which units are used."""
        return system

    def where(self, place: Place, when: dt.date | None = None) -> dict[str, Any]:
        """Describe a place.

        :param place: The place.
        :param when: The day.
        """
        return {"place": place, "when": when}

    def fail(self) -> None:
        """Always fails with a tool error."""
        raise ToolError("no forecast today")

    async def later(self) -> None:
        """Async methods are not tools."""

    @property
    def busy(self) -> bool:
        return False

    def _private(self) -> None:
        pass


def test_tools_and_schemas() -> None:
    app = PythonApp(Weather(), name="weather", description="Weather forecasts")
    assert isinstance(app, App)
    assert [t.name for t in app.tools] == ["forecast", "units", "where", "fail"]
    forecast = app.tools[0]
    assert forecast.description == "Forecast for a city."
    assert forecast.parameters == {
        "type": "object",
        "properties": {
            "city": {"type": "string", "description": 'City name, e.g. "Paris".'},
            "days": {
                "type": "integer",
                "default": 1,
                "description": "How many days ahead, from 1 to 5.",
            },
        },
        "required": ["city"],
        "additionalProperties": False,
    }
    units = app.tools[1].parameters["properties"]["system"]
    assert units["enum"] == ["metric", "imperial"]
    for tool in app.tools:
        Draft202012Validator.check_schema(tool.parameters)
    where = app.tools[2].parameters
    assert where["properties"]["place"]["description"] == "The place."
    assert "$defs" in where and "title" not in where


def test_description_defaults_to_class_docstring() -> None:
    assert PythonApp(Weather(), name="w").description == "Weather forecasts for cities."


def test_call_validates_coerces_and_returns_json() -> None:
    app = PythonApp(Weather(), name="weather")
    result = app.call("forecast", {"city": "Paris", "days": "2"})
    assert result["city"] == "Paris" and len(result["temps"]) == 2
    out = app.call("where", {"place": {"city": "Lyon"}, "when": "2024-11-15"})
    assert out == {"place": {"city": "Lyon", "country": "FR"}, "when": "2024-11-15"}
    assert app.call("units", {}) == "metric"


@pytest.mark.parametrize(
    ("tool", "args", "match"),
    [
        ("nope", {}, "unknown tool 'nope' for app weather; available: forecast, units"),
        ("forecast", {}, "city: Field required"),
        ("forecast", {"city": "Paris", "colour": 1}, "colour: Extra inputs are not permitted"),
        ("units", {"system": "kelvin"}, "system: Input should be 'metric' or 'imperial'"),
        ("forecast", {"city": "Paris", "days": 9}, "at most 5 days ahead"),
        ("fail", {}, "no forecast today"),
        ("later", {}, "unknown tool"),
        ("_private", {}, "unknown tool"),
    ],
)
def test_bad_calls(tool: str, args: dict[str, Any], match: str) -> None:
    with pytest.raises(ToolError, match=match):
        PythonApp(Weather(), name="weather").call(tool, args)


def test_choose_tools() -> None:
    app = PythonApp(Weather(), name="weather", tools=["units"])
    assert [t.name for t in app.tools] == ["units"]
    with pytest.raises(ValueError, match="no public synchronous method 'later'"):
        PythonApp(Weather(), name="weather", tools=["later"])


def test_snapshot_restore() -> None:
    app = PythonApp(Weather(), name="weather")
    app.call("forecast", {"city": "Paris"})
    snap = app.snapshot()
    first = app.call("forecast", {"city": "Rome"})
    app.restore(snap)
    assert app.obj.calls == 1 and app.obj.history == {1: "Paris"} and app.obj.seen == {"Paris"}
    assert app.call("forecast", {"city": "Rome"}) == first


def test_snapshot_refuses_unsupported_values() -> None:
    obj = Weather()
    obj.place = Place(city="Nice")  # type: ignore[attr-defined]
    with pytest.raises(TypeError, match="cannot encode"):
        PythonApp(obj, name="w").snapshot()


def test_plain_functions_set_on_instance_and_world_use() -> None:
    class Notes:
        def __init__(self) -> None:
            self.notes: dict[str, str] = {}

        def add(self, key: str, text: str) -> str:
            """Add a note."""
            self.notes[key] = text
            return key

    world = World({"notes": PythonApp(Notes(), name="notes")})
    assert world.get("notes").call("add", {"key": "N1", "text": "milk"}) == "N1"
    assert world.snapshot() == {"notes": {"app": "notes", "state": {"notes": {"N1": "milk"}}}}


def test_parse_docstring_forms() -> None:
    assert parse_docstring(None) == ("", {})
    assert parse_docstring("Args:\n    x: y") == ("", {"x": "y"})
    summary, params = parse_docstring(
        "Do it.\n\n    Arguments:\n        a (int): first\n        *rest: more\n"
        "    Returns:\n        x"
    )
    assert summary == "Do it."
    assert params == {"a": "first", "rest": "more"}
