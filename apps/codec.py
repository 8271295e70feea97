"""A small tagged JSON encoding for app state, and a JSON-able view of tool results.

``encode_state`` turns a Python value into JSON data that ``decode_state`` turns back into an
equal value. Plain JSON values stay as they are (so a snapshot stays readable); everything else
becomes a dict tagged with the key ``"$t"``:

- ``{"$t": "tuple" | "set" | "frozenset", "v": [...]}``
- ``{"$t": "dict", "v": [[key, value], ...]}``: a dict with a non-``str`` key or a ``"$t"`` key
- ``{"$t": "datetime" | "date" | "time", "v": "<isoformat>"}``
- ``{"$t": "timedelta", "v": [days, seconds, microseconds]}``
- ``{"$t": "float", "v": "nan" | "inf" | "-inf"}`` (so the output is strict JSON)
- ``{"$t": "random", "v": {...}}``: a ``random.Random`` and its exact generator state
- ``{"$t": "obj", "cls": "Name", "v": {...}}``: an instance of a class the caller allows, by its
  ``__dict__``
- ``{"$t": "ref", "id": n}``: a second reference to a list, dict, set, ``Random`` or object.

Aliasing is kept: a container or object reached more than once is written once with an
``"id"`` and referred to afterwards, so shared objects and cycles (a directory's ``parent``)
come back as shared objects. Objects are restored with ``cls.__new__`` and their ``__dict__``;
only classes in the ``classes`` map can be encoded or decoded, so a snapshot can never name an
arbitrary class to instantiate.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import math
import random
import struct
from collections.abc import Mapping
from typing import Any

TAG = "$t"
_SHAREABLE = (list, dict, set, random.Random)


def _is_object(value: Any, classes: Mapping[str, type]) -> bool:
    return type(value).__name__ in classes and classes[type(value).__name__] is type(value)


def _count_refs(value: Any, classes: Mapping[str, type], seen: dict[int, int]) -> None:
    """First pass: count how often each shareable container or object is reached."""
    stack = [value]
    while stack:
        item = stack.pop()
        shareable = isinstance(item, _SHAREABLE) or _is_object(item, classes)
        if shareable:
            seen[id(item)] = seen.get(id(item), 0) + 1
            if seen[id(item)] > 1:
                continue
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple | set | frozenset):
            stack.extend(item)
        elif _is_object(item, classes):
            stack.extend(vars(item).values())


class _Encoder:
    def __init__(self, classes: Mapping[str, type], counts: dict[int, int]) -> None:
        self.classes = classes
        self.counts = counts
        self.ids: dict[int, int] = {}
        self.keep: list[Any] = []  # keeps encoded objects alive so ids stay unique

    def _register(self, value: Any, out: dict[str, Any]) -> dict[str, Any]:
        if self.counts.get(id(value), 0) > 1:
            self.ids[id(value)] = len(self.ids)
            self.keep.append(value)
            out["id"] = self.ids[id(value)]
        return out

    def encode(self, value: Any) -> Any:
        if value is None or isinstance(value, bool | int | str):
            return value
        if isinstance(value, float):
            return value if math.isfinite(value) else {TAG: "float", "v": repr(value)}
        if id(value) in self.ids:
            return {TAG: "ref", "id": self.ids[id(value)]}
        if isinstance(value, list):
            if self.counts.get(id(value), 0) > 1:
                out = self._register(value, {TAG: "list"})
                out["v"] = [self.encode(v) for v in value]
                return out
            return [self.encode(v) for v in value]
        if isinstance(value, dict):
            plain = self.counts.get(id(value), 0) <= 1 and all(
                isinstance(k, str) and k != TAG for k in value
            )
            if plain:
                return {k: self.encode(v) for k, v in value.items()}
            out = self._register(value, {TAG: "dict"})
            out["v"] = [[self.encode(k), self.encode(v)] for k, v in value.items()]
            return out
        if isinstance(value, set | frozenset):
            out = {TAG: type(value).__name__}
            if isinstance(value, set):
                self._register(value, out)
            out["v"] = [self.encode(v) for v in value]
            return out
        if isinstance(value, tuple) and type(value) is tuple:
            return {TAG: "tuple", "v": [self.encode(v) for v in value]}
        if isinstance(value, dt.datetime | dt.date | dt.time):
            return {TAG: type(value).__name__, "v": value.isoformat()}
        if isinstance(value, dt.timedelta):
            return {TAG: "timedelta", "v": [value.days, value.seconds, value.microseconds]}
        if type(value) is random.Random:
            out = self._register(value, {TAG: "random"})
            out["v"] = _pack_random(value.getstate())
            return out
        if _is_object(value, self.classes):
            out = self._register(value, {TAG: "obj", "cls": type(value).__name__})
            out["v"] = self.encode(dict(vars(value)))
            return out
        raise TypeError(
            f"cannot encode a {type(value).__module__}.{type(value).__qualname__} value; "
            "allowed: JSON values, list, dict, tuple, set, datetime, random.Random"
            + (f", {', '.join(sorted(self.classes))}" if self.classes else "")
        )


class _Decoder:
    def __init__(self, classes: Mapping[str, type]) -> None:
        self.classes = classes
        self.memo: dict[int, Any] = {}

    def _remember(self, data: dict[str, Any], value: Any) -> Any:
        if "id" in data:
            self.memo[int(data["id"])] = value
        return value

    def decode(self, data: Any) -> Any:
        if isinstance(data, list):
            return [self.decode(v) for v in data]
        if not isinstance(data, dict):
            return data
        tag = data.get(TAG)
        if tag is None:
            return {k: self.decode(v) for k, v in data.items()}
        if tag == "ref":
            return self.memo[int(data["id"])]
        if tag == "list":
            items: list[Any] = self._remember(data, [])
            items.extend(self.decode(v) for v in data["v"])
            return items
        if tag == "dict":
            mapping: dict[Any, Any] = self._remember(data, {})
            for key, val in data["v"]:
                k = self.decode(key)
                mapping[k] = self.decode(val)
            return mapping
        if tag == "set":
            members: set[Any] = self._remember(data, set())
            members.update(self.decode(v) for v in data["v"])
            return members
        if tag == "frozenset":
            return frozenset(self.decode(v) for v in data["v"])
        if tag == "tuple":
            return tuple(self.decode(v) for v in data["v"])
        if tag == "float":
            return float(data["v"])
        if tag in ("datetime", "date", "time"):
            kind: Any = getattr(dt, tag)
            return kind.fromisoformat(data["v"])
        if tag == "timedelta":
            days, seconds, micros = data["v"]
            return dt.timedelta(days=days, seconds=seconds, microseconds=micros)
        if tag == "random":
            rng = self._remember(data, random.Random())
            rng.setstate(_unpack_random(data["v"]))
            return rng
        if tag == "obj":
            cls = self.classes.get(data["cls"])
            if cls is None:
                raise ValueError(f"snapshot names class {data['cls']!r}, which is not allowed")
            factory: Any = cls
            obj = self._remember(data, factory.__new__(cls))
            obj.__dict__.update(self.decode(data["v"]))
            return obj
        raise ValueError(f"unknown snapshot tag {tag!r}")


def _pack_random(state: Any) -> dict[str, Any]:
    """``Random.getstate()`` as compact JSON: the Mersenne Twister words in base64."""
    version, words, gauss = state
    packed = base64.b64encode(struct.pack(f"<{len(words)}I", *words)).decode("ascii")
    return {"version": version, "words": packed, "gauss": gauss}


def _unpack_random(data: dict[str, Any]) -> Any:
    raw = base64.b64decode(data["words"])
    words = struct.unpack(f"<{len(raw) // 4}I", raw)
    return (data["version"], words, data["gauss"])


def encode_state(value: Any, classes: Mapping[str, type] | None = None) -> Any:
    """Encode ``value`` as JSON data; ``classes`` (name -> class) may be stored by ``__dict__``.

    Raises ``TypeError`` for a value of any other type.
    """
    allowed = dict(classes or {})
    counts: dict[int, int] = {}
    _count_refs(value, allowed, counts)
    return _Encoder(allowed, counts).encode(value)


def decode_state(data: Any, classes: Mapping[str, type] | None = None) -> Any:
    """Rebuild the value that ``encode_state`` encoded (with the same ``classes``)."""
    return _Decoder(dict(classes or {})).decode(data)


def to_jsonable(value: Any) -> Any:
    """A JSON-serialisable copy of a tool result (lossy: tuples and sets become lists).

    Dict keys become strings; datetimes become ISO strings; ``Decimal`` and ``mpmath`` numbers
    become floats when a float holds them exactly, otherwise strings; anything else its ``str``.
    """
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, Mapping):
        return {_key(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, set | frozenset):
        items = [to_jsonable(v) for v in value]
        try:
            return sorted(items)
        except TypeError:
            return items
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, decimal.Decimal) or type(value).__module__.startswith("mpmath"):
        return _number(value)
    if hasattr(value, "model_dump"):
        return to_jsonable(value.model_dump(mode="json"))
    return str(value)


def _key(key: Any) -> str:
    if isinstance(key, str):
        return key
    if key is None or isinstance(key, bool):
        return "null" if key is None else str(key).lower()
    return str(to_jsonable(key))


def _number(value: Any) -> float | int | str:
    text = str(value)
    try:
        exact = decimal.Decimal(text)
        as_float = float(text)
    except (decimal.InvalidOperation, ValueError):
        return text
    if not math.isfinite(as_float):
        return text
    if exact == decimal.Decimal(repr(as_float)):
        return as_float
    return text
