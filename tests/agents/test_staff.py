"""StaffAgent pieces: the action schema, bounded argument schemas, validation, loop stop."""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator

from agents import AgentSettings, Specialist, StaffAgent, action_schema
from agents.staff import bounded
from apps import make_bfcl_app
from modelclient.testing import ScriptedModel
from tests.orchestrator.helpers import MailApp, act


def test_bounded_caps_strings_and_arrays_without_changing_the_rest() -> None:
    schema = {
        "type": "object",
        "properties": {
            "type": {"type": "string"},  # a property named "type"
            "tags": {"type": "array", "items": {"type": "string"}},
            "mode": {"type": "string", "enum": ["a", "b"]},
            "n": {"type": ["integer", "null"]},
        },
    }
    out = bounded(schema, 300)
    assert out["properties"]["type"]["maxLength"] == 300
    assert out["properties"]["tags"]["maxItems"] == 20
    assert out["properties"]["tags"]["items"]["maxLength"] == 300
    assert "maxLength" not in out["properties"]["mode"]
    assert out["properties"]["n"] == {"type": ["integer", "null"]}
    assert "maxLength" not in schema["properties"]["type"]  # the original is untouched


def test_action_schema_of_every_bfcl_app_is_valid_and_constrains_tool_names() -> None:
    for name in (
        "file_system",
        "math",
        "messaging",
        "posting",
        "tickets",
        "trading",
        "travel",
        "vehicle",
    ):
        app = make_bfcl_app(name, {})
        schema = action_schema(app.tools, max_chars=100)
        Draft202012Validator.check_schema(schema)
        validator = Draft202012Validator(schema)
        assert not validator.is_valid({"thought": "", "tool": "rm_rf", "arguments": {}})
        assert validator.is_valid({"thought": "", "tool": "finish", "result": "done"})


async def test_invalid_arguments_go_back_to_the_model_as_an_error() -> None:
    app = MailApp()
    spec = Specialist(name="mail", description="Mail", app_factory=MailApp)
    model = ScriptedModel(
        [
            # valid under the action schema (the model could write this) but the tool's own
            # schema forbids the extra argument: code validation catches it
            {"thought": "", "tool": "send", "arguments": {"to": "bob", "body": "x", "cc": "eve"}},
            act("send", to="bob", body="x"),
            act("finish", result="sent"),
        ]
    )
    staff = StaffAgent(spec, app, model, AgentSettings())
    staff.schema = {"type": "object"}  # let the scripted model through unconstrained
    attempt = await staff.attempt("Mail bob")
    assert attempt.status == "finished"
    assert attempt.steps[0].error is not None and "cc" in attempt.steps[0].error
    assert app.outbox == [{"to": "bob", "body": "x"}]
    second_prompt = model.calls[1].messages[-1].content
    assert second_prompt.startswith("Error: invalid arguments for send")


async def test_app_exceptions_become_observations() -> None:
    class Broken(MailApp):
        def call(self, tool: str, args: dict[str, Any]) -> Any:
            raise RuntimeError("disk on fire")

    spec = Specialist(name="mail", description="Mail", app_factory=Broken)
    model = ScriptedModel([act("send", to="bob", body="x"), act("finish", result="failed")])
    attempt = await StaffAgent(spec, Broken(), model).attempt("Mail bob")
    assert attempt.steps[0].error == "RuntimeError: disk on fire"
    assert attempt.status == "finished"


def test_a_retry_prompt_starts_with_the_first_attempts_prompt() -> None:
    """What is the same for every attempt comes first, so the server's prefix cache reuses
    it: a retry's task text starts with the first attempt's (inputs and expertise included)."""
    from agents.prompts import staff_task

    first = staff_task("Mail ann", {"s1": "N1"}, "", "- send first", 600)
    retry = staff_task("Mail ann", {"s1": "N1"}, "use ann's address", "- send first", 600)
    assert retry.startswith(first) and retry != first
