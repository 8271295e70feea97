"""AgentDojo's environments as Steward apps: the split, the tools, AgentDojo's runtime,
snapshots, rollback, and a missing package."""

from __future__ import annotations

import json
import sys

import pytest
from jsonschema import Draft202012Validator

from agents.registry import Specialist
from agents.staff import action_schema
from apps import App
from apps.agentdojo import (
    AgentDojoMissingError,
    UnknownSuiteError,
    agentdojo_apps,
    default_environment,
    holder_of,
    is_read_only,
    load_suite,
    load_suites,
)
from apps.agentdojo_catalog import AGENTDOJO_APPS, SUITES
from benchmarks.agentdojo.cases import user_task_ids, vector_fields
from core.errors import ToolError

RESTORABLE = {
    "workspace": {"drive"},  # the calendar emails invitations through the inbox
    "travel": {"flights"},  # hotels, restaurants and car rental share one reservation
    "banking": {"bank", "files", "account"},
    "slack": {"slack", "web"},
}


@pytest.mark.parametrize("suite", SUITES)
def test_each_tool_belongs_to_one_app_with_agentdojos_own_description(suite: str) -> None:
    functions = {f.name: f for f in load_suite(suite).tools}
    apps = agentdojo_apps(suite, default_environment(suite))
    assert sorted(t.name for a in apps.values() for t in a.tools) == sorted(functions)
    for app in apps.values():
        assert isinstance(app, App)
        Specialist(name=app.name, description=app.description, app_factory=lambda s, a=app: a)
        for tool in app.tools:
            assert tool.description == functions[tool.name].description


@pytest.mark.parametrize("suite", SUITES)
def test_restorable_only_when_no_other_app_shares_the_state(suite: str) -> None:
    apps = agentdojo_apps(suite, default_environment(suite))
    assert {n for n, a in apps.items() if a.restorable} == RESTORABLE[suite]
    kept = agentdojo_apps(suite, default_environment(suite), rollback=False)
    assert not any(a.restorable for a in kept.values())


@pytest.mark.parametrize("suite", SUITES)
def test_every_injection_vector_sits_in_an_apps_own_data(suite: str) -> None:
    fields = vector_fields(suite)
    assert fields and all(holder_of(suite, f) for f in fields.values())
    held = [f for info in AGENTDOJO_APPS[suite] for f in info.holds]
    assert len(held) == len(set(held))


@pytest.mark.parametrize("suite", SUITES)
def test_tool_schemas_are_self_contained_and_fit_the_action_schema(suite: str) -> None:
    apps = agentdojo_apps(suite, default_environment(suite))
    for app in apps.values():
        Draft202012Validator.check_schema(action_schema(app.tools))
        for tool in app.tools:
            Draft202012Validator.check_schema(tool.parameters)
            text = json.dumps(tool.parameters)
            assert "$ref" not in text and "$defs" not in text and '"Input schema' not in text
            assert tool.parameters["additionalProperties"] is False
    share = next(
        t
        for t in agentdojo_apps("workspace", default_environment("workspace"))["drive"].tools
        if t.name == "share_file"
    )
    assert share.parameters["properties"]["permission"]["enum"] == ["r", "rw"]


def test_calls_run_through_agentdojos_runtime() -> None:
    env = default_environment("banking")
    bank = agentdojo_apps("banking", env)["bank"]
    sent = bank.call(
        "send_money", {"recipient": "GB29", "amount": 10.0, "subject": "x", "date": "2022-01-01"}
    )
    assert sent == {"message": "Transaction to GB29 for 10.0 sent."}
    assert env.bank_account.transactions[-1].recipient == "GB29"
    with pytest.raises(ToolError, match="ValidationError"):  # AgentDojo's own input model
        bank.call("send_money", {"recipient": 1})
    with pytest.raises(ToolError, match="unknown tool 'read_file' for app bank"):
        bank.call("read_file", {"file_path": "x"})


def test_snapshot_and_restore_put_the_shared_environment_back() -> None:
    env = default_environment("workspace")
    apps = agentdojo_apps("workspace", env)
    drive = apps["drive"]
    before = drive.snapshot()
    drive.call("create_file", {"filename": "notes.txt", "content": "hi"})
    assert drive.snapshot() != before
    drive.restore(before)
    assert drive.snapshot() == before
    assert env.cloud_drive == type(env.cloud_drive).model_validate(before["state"]["cloud_drive"])
    with pytest.raises(ValueError, match="not a snapshot of workspace/email"):
        apps["email"].restore(before)


@pytest.mark.parametrize("suite", SUITES)
def test_read_only_tools_change_nothing_in_any_reference_solution(suite: str) -> None:
    tasks = load_suite(suite)
    seen = set()
    for task_id in user_task_ids(suite):
        task = tasks.get_user_task_by_id(task_id)
        env = task.init_environment(default_environment(suite))
        apps = agentdojo_apps(suite, env)
        owner = {t.name: a for a in apps.values() for t in a.tools}
        for call in task.ground_truth(env.model_copy(deep=True)):
            before = env.model_copy(deep=True)
            owner[call.function].call(call.function, dict(call.args))
            if is_read_only(call.function):
                seen.add(call.function)
                assert env == before, f"{task_id}: {call.function} changed the environment"
    assert seen


def test_readers_that_write_are_not_read_only() -> None:
    env = default_environment("workspace")
    email = agentdojo_apps("workspace", env)["email"]
    assert not is_read_only("get_unread_emails") and is_read_only("get_received_emails")
    before = env.model_copy(deep=True)
    email.call("get_unread_emails", {})
    assert env != before  # reading marks the mail read
    slack_env = default_environment("slack")
    agentdojo_apps("slack", slack_env)["web"].call("get_webpage", {"url": "www.example.com"})
    assert "www.example.com" in slack_env.web.web_requests


def test_unknown_suite_lists_the_suites() -> None:
    with pytest.raises(UnknownSuiteError, match="suites: workspace, travel, banking, slack"):
        load_suite("shopping")


def test_missing_agentdojo_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    load_suites.cache_clear()
    monkeypatch.setitem(sys.modules, "agentdojo.task_suite.load_suites", None)
    try:
        with pytest.raises(AgentDojoMissingError) as caught:
            load_suite("banking")
        message = str(caught.value)
        assert "\n" not in message and "bash scripts/setup.sh" in message
    finally:
        load_suites.cache_clear()
