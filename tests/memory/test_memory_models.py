from __future__ import annotations

import pytest
from pydantic import ValidationError

from memory import Action, ExpertiseEntry, GuidelineEntry, Provenance, Retrieved
from tests.memory.factories import graph


def test_tokens_derived_from_graph_sorted_unique() -> None:
    g = graph(("<app:b>", "x"), ("<app:a>", "y"), ("<app:b>", "z"))
    entry = GuidelineEntry(instruction="do it", graph=g)
    assert entry.task_tokens == ["<app:a>", "<app:b>"]
    assert entry.outcome == "success"
    assert (entry.uses, entry.successes) == (0, 1)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"instruction": "x", "graph": {"edges": []}},
        {"instruction": "x", "graph": {"nodes": ["n1"]}},
        {"instruction": "", "graph": {"nodes": []}},
        {"instruction": "x", "graph": {"nodes": []}, "colour": "red"},
        {"instruction": "x", "graph": {"nodes": []}, "outcome": "failure"},
        {"instruction": "x", "graph": {"nodes": []}, "successes": -1},
        {"instruction": "x", "graph": {"nodes": []}, "updated_at": "yesterday"},
    ],
)
def test_guideline_rejects_bad_values(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        GuidelineEntry.model_validate(kwargs)


def test_expertise_actions_are_validated() -> None:
    entry = ExpertiseEntry(
        task_token="<app:x>", subtask="s", actions=[Action(tool="t", arguments={"a": 1})]
    )
    assert entry.actions[0].tool == "t"
    with pytest.raises(ValidationError):
        ExpertiseEntry.model_validate(
            {"task_token": "<app:x>", "subtask": "s", "actions": [{"arguments": {}}]}
        )


def test_times_are_canonical_utc() -> None:
    prov = Provenance(created_at="2024-05-01T12:00:00+02:00")
    assert prov.created_at == "2024-05-01T10:00:00.000000+00:00"
    assert Provenance(created_at="2024-05-01T10:00:00Z").created_at == prov.created_at
    assert Provenance(created_at="2024-05-01T10:00:00").created_at == prov.created_at


def test_retrieved_entries_and_scores_parallel() -> None:
    entry = ExpertiseEntry(id=4, task_token="<app:x>", subtask="s")
    found = Retrieved(kind="expertise", query="q", entries=[entry], scores=[1.5])
    assert found.ids == [4]
    again = Retrieved.model_validate_json(found.model_dump_json())
    assert isinstance(again.entries[0], ExpertiseEntry)
    with pytest.raises(ValidationError):
        Retrieved(kind="expertise", query="q", entries=[entry], scores=[])
