"""Task tokens at the serving level: a token can be served by its own model name."""

from __future__ import annotations

from pathlib import Path

from agents import Registry, Specialist
from cli.build import models_config
from modelclient import ModelPool
from modelclient.base import ChatMessage
from modelclient.stub import StubServer
from tests.orchestrator.helpers import MailApp, NotesApp


async def test_tokens_map_to_served_model_names(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[roles."<app:notes>"]\nmodel = "notes-lora"\n')
    registry = Registry(
        [
            Specialist(name="notes", description="n", app_factory=NotesApp),
            Specialist(name="mail", description="m", app_factory=MailApp, model="mail-expert"),
        ]
    )
    with StubServer(models=["base", "notes-lora", "mail-expert"]) as stub:
        cfg = models_config(registry, str(config), stub.url, "base")
        async with ModelPool(cfg) as pool:
            hello = [ChatMessage(role="user", content="hi")]
            for role in ("steward", "<app:notes>", "<app:mail>", "<app:other>"):
                await pool.for_role(role).complete(hello, role=role)
        sent = [r["model"] for r in stub.requests if r["messages"][-1]["content"] == "hi"]
    assert sent == ["base", "notes-lora", "mail-expert", "base"]


def test_the_embedded_server_gets_a_frequency_penalty_unless_one_is_set(tmp_path: Path) -> None:
    from agents.registry import default_registry
    from cli.build import EMBEDDED_FREQUENCY_PENALTY, models_config

    registry = default_registry()
    assert models_config(registry, None, None, None).default.frequency_penalty == (
        EMBEDDED_FREQUENCY_PENALTY
    )
    other = models_config(registry, None, "http://127.0.0.1:9/v1", "m")
    assert other.default.frequency_penalty is None
    path = tmp_path / "config.toml"
    path.write_text("[model]\nfrequency_penalty = 0.0\n")
    assert models_config(registry, str(path), None, None).default.frequency_penalty == 0.0
