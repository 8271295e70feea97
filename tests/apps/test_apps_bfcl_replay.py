"""Replaying BFCL's ground truth through ``BfclApp`` gives the same states as the raw classes.

This is what the benchmark harness relies on: our schemas accept every ground-truth call, and
calling through the adapter (validation, copied arguments, fresh mutable defaults) changes the
app state exactly as calling the BFCL method directly does.
"""

from __future__ import annotations

import contextlib
import copy
from typing import Any

import pytest

from apps import BFCL_CLASS_TO_APP, make_bfcl_app
from apps.bfcl import BfclApp
from core.errors import ToolError
from tests.apps.bfcl_replay import bfcl_data, parse_call

CATEGORIES = ["base", "miss_func", "miss_param", "long_context"]


def public_state(instance: Any) -> dict[str, Any]:
    """What BFCL's checker compares: the public attributes (with the classes' own ``==``)."""
    return {k: v for k, v in vars(instance).items() if not k.startswith("_")}


@pytest.mark.parametrize("category", CATEGORIES)
def test_ground_truth_replays_identically(category: str) -> None:
    tasks = {row["id"]: row for row in bfcl_data(f"BFCL_v4_multi_turn_{category}.json")}
    answers = bfcl_data(f"possible_answer/BFCL_v4_multi_turn_{category}.json")
    long_context = category == "long_context"
    calls = 0
    for answer in answers:
        task = tasks[answer["id"]]
        ours: dict[str, BfclApp] = {}
        raw: dict[str, Any] = {}
        for cls_name in task["involved_classes"]:
            state = task["initial_config"].get(cls_name, {})
            ours[cls_name] = make_bfcl_app(
                BFCL_CLASS_TO_APP[cls_name], state, long_context=long_context
            )
            raw[cls_name] = type(ours[cls_name].instance)()
            if hasattr(raw[cls_name], "_load_scenario"):
                raw[cls_name]._load_scenario(copy.deepcopy(state), long_context=long_context)
        for turn in answer["ground_truth"]:
            for text in turn:
                func = text.split("(", 1)[0]
                owner = next(c for c in raw if hasattr(raw[c], func))
                name, args = parse_call(text, getattr(raw[owner], func))
                schema_errors = list(ours[owner]._spec.validators[name].iter_errors(args))
                assert not schema_errors, (answer["id"], text, schema_errors[0].message)
                with contextlib.suppress(Exception):
                    getattr(raw[owner], name)(**copy.deepcopy(args))
                with contextlib.suppress(ToolError):
                    ours[owner].call(name, args)
                calls += 1
            for cls_name in raw:
                assert public_state(ours[cls_name].instance) == public_state(raw[cls_name]), (
                    answer["id"],
                    cls_name,
                )
    assert calls > 500
