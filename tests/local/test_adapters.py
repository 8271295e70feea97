"""Trained experts, offline: installed adapter folders (listing, validation, install, replace,
refusal of another base model, uninstall), vLLM's LoRA flags, which adapters a server serves,
the routing of task tokens to them in a run's models config, and ``steward agents``."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from agents import Registry, Specialist
from cli.build import ensure_backend, models_config
from cli.main import cli
from local.adapters import (
    MANIFEST,
    AdapterError,
    adapter_digest,
    install_adapter,
    list_adapters,
    read_adapter,
    uninstall_adapter,
)
from local.experts import (
    changes,
    expert_routes,
    installed_adapters,
    lora_arguments,
    routes,
    vllm_rank,
)
from local.process import write_state
from local.settings import ServerInfo, ServerSettings
from modelclient.stub import StubServer
from tests.orchestrator.helpers import MailApp, NotesApp

BASE = "smollm2-135m-instruct"
CONFIG = b'{"model_type": "llama", "hidden_size": 576}'
SHA = hashlib.sha256(CONFIG).hexdigest()


def make_adapter(
    folder: Path, name: str = "messaging-expert", token: str = "<app:messaging>", **fields: Any
) -> Path:
    """A fake adapter folder: manifest, peft config (``rank``) and a weights file."""
    folder.mkdir(parents=True)
    rank = fields.pop("rank", 8)
    manifest = {"name": name, "task_token": token, "base_model": BASE, "base_model_sha256": SHA,
                "steps": 12, "examples": 40, "trained_at": 1.8e9, "rank": rank, **fields}  # fmt: skip
    (folder / MANIFEST).write_text(json.dumps(manifest))
    peft = {"peft_type": "LORA", "r": rank, "target_modules": ["q_proj", "v_proj"]}
    (folder / "adapter_config.json").write_text(json.dumps(peft))
    (folder / "adapter_model.safetensors").write_bytes(f"weights of {name}".encode())
    return folder


@pytest.fixture
def settings() -> ServerSettings:
    """The default settings (data and cache folders are the test's own), model converted."""
    s = ServerSettings()
    s.model_dir.mkdir(parents=True)
    (s.model_dir / "config.json").write_bytes(CONFIG)
    return s


def install(settings: ServerSettings, source: Path) -> None:
    assert settings.adapters_dir is not None
    install_adapter(source, settings.adapters_dir, base_model=BASE, model_dir=settings.model_dir)


# --- adapter folders --------------------------------------------------------------------------


def _no_manifest(p: Path) -> None:
    (p / MANIFEST).unlink()


def _edit(path: str, change: dict[str, Any] | None = None, drop: str = "") -> Any:
    def edit(p: Path) -> None:
        data = json.loads((p / path).read_text())
        data.update(change or {})
        data.pop(drop, None)
        (p / path).write_text(json.dumps(data))

    return edit


BROKEN = [
    (_no_manifest, "no steward_adapter.json"),
    (lambda p: (p / MANIFEST).write_text("{oops"), "not readable JSON"),
    (_edit(MANIFEST, drop="task_token"), "invalid: task_token: Field required"),
    (_edit(MANIFEST, {"colour": "red"}), "invalid: colour"),
    (_edit(MANIFEST, {"version": 9}), "version 9: made by a newer Steward"),
    (_edit(MANIFEST, {"name": "a=b"}), "not a servable name"),
    (lambda p: (p / "adapter_config.json").unlink(), "no readable adapter_config.json"),
    (_edit("adapter_config.json", {"peft_type": "IA3"}), "peft_type 'IA3', not LORA"),
    (_edit("adapter_config.json", drop="r"), "gives no LoRA rank"),
    (_edit("adapter_config.json", {"r": 1024}), "rank 1024 is above the largest vLLM serves"),
    (lambda p: (p / "adapter_model.safetensors").unlink(), "no weights"),
]


@pytest.mark.parametrize(("breaks", "reason"), BROKEN)
def test_a_broken_adapter_is_listed_with_its_reason(
    tmp_path: Path, breaks: Any, reason: str
) -> None:
    root = tmp_path / "adapters"
    make_adapter(root / "good-expert", name="good-expert")
    breaks(make_adapter(root / "messaging-expert"))
    found = {a.path.name: a for a in list_adapters(root)}
    assert set(found) == {"good-expert", "messaging-expert"}  # never skipped
    assert found["good-expert"].ok and found["good-expert"].rank == 8
    bad = found["messaging-expert"]
    assert not bad.ok and bad.problem is not None and reason in bad.problem
    assert "\n" not in bad.problem
    with pytest.raises(AdapterError, match="cannot install"):
        install_adapter(bad.path, tmp_path / "elsewhere", base_model=BASE, model_dir=tmp_path)


def test_listing_skips_installs_in_progress_and_names_a_misplaced_adapter(tmp_path: Path) -> None:
    root = tmp_path / "adapters"
    assert list_adapters(root) == []
    make_adapter(root / ".messaging-expert.x1" / "copy")
    make_adapter(root / "renamed", name="travel-expert")
    (root / "notes.txt").write_text("not an adapter")
    (only,) = list_adapters(root)
    assert only.problem == "folder renamed holds adapter travel-expert"
    assert read_adapter(tmp_path / "nowhere").problem == "not a folder"


def test_rank_pattern_counts_towards_the_rank(tmp_path: Path) -> None:
    folder = make_adapter(tmp_path / "a")
    (folder / "adapter_config.json").write_text(
        json.dumps({"peft_type": "LORA", "r": 8, "rank_pattern": {"q_proj": 64}})
    )
    assert read_adapter(folder).rank == 64


# --- install, replace, refuse, uninstall ------------------------------------------------------


def test_install_copies_under_the_manifest_name_and_replaces(
    settings: ServerSettings, tmp_path: Path
) -> None:
    assert settings.adapters_dir is not None
    install(settings, make_adapter(tmp_path / "out-1"))
    target = settings.adapters_dir / "messaging-expert"
    first = adapter_digest(target)
    newer = make_adapter(tmp_path / "out-2", steps=99)
    (newer / "adapter_model.safetensors").write_bytes(b"retrained")
    install(settings, newer)
    (adapter,) = list_adapters(settings.adapters_dir)
    assert adapter.ok and adapter.manifest is not None and adapter.manifest.steps == 99
    assert (target / "adapter_model.safetensors").read_bytes() == b"retrained"
    assert adapter_digest(target) != first
    assert sorted(p.name for p in settings.adapters_dir.iterdir()) == [".lock", "messaging-expert"]
    install(settings, target)  # already there: nothing to do
    assert uninstall_adapter("messaging-expert", settings.adapters_dir) == target
    assert not target.exists()
    with pytest.raises(
        AdapterError, match=r"no installed adapter 'messaging-expert' \(installed: none\)"
    ):
        uninstall_adapter("messaging-expert", settings.adapters_dir)


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"base_model": "qwen2.5-7b"}, "trained on qwen2.5-7b, not on smollm2-135m-instruct"),
        ({"base_model_sha256": "ab" * 32}, "trained on other weights of smollm2-135m-instruct"),
        ({"base_model_sha256": ""}, "its manifest does not say which weights"),
    ],
)
def test_install_refuses_an_adapter_of_another_base_model(
    settings: ServerSettings, tmp_path: Path, fields: dict[str, Any], reason: str
) -> None:
    with pytest.raises(AdapterError, match=f"cannot install adapter messaging-expert: {reason}"):
        install(settings, make_adapter(tmp_path / "out", **fields))
    assert settings.adapters_dir is not None and list_adapters(settings.adapters_dir) == []


def test_install_needs_the_base_model(tmp_path: Path) -> None:
    with pytest.raises(AdapterError, match="is not installed yet"):
        install(ServerSettings(), make_adapter(tmp_path / "out"))


# --- serving: flags, the servable set, changes ------------------------------------------------


def test_lora_arguments(tmp_path: Path) -> None:
    a = make_adapter(tmp_path / "a", rank=8)
    b = make_adapter(tmp_path / "b,c", rank=24)
    args = lora_arguments([f"a={a}", f"b={b}"])
    assert args[:5] == ["--enable-lora", "--max-loras", "2", "--max-lora-rank", "32"]
    assert args[5:7] == ["--lora-modules", f"a={a}"]
    assert json.loads(args[7]) == {"name": "b", "path": str(b)}  # a comma: vLLM reads JSON
    assert [vllm_rank(r) for r in (1, 2, 8, 9, 300, 512)] == [1, 8, 8, 16, 320, 512]


def test_installed_adapters_sorts_servable_from_unfit(
    settings: ServerSettings, tmp_path: Path
) -> None:
    assert settings.adapters_dir is not None
    root = settings.adapters_dir
    make_adapter(root / "messaging-expert")
    make_adapter(root / "steward-expert", name="steward-expert", token="steward")
    make_adapter(root / "single-expert", name="single-expert", token="single")
    make_adapter(root / "old-expert", name="old-expert", base_model_sha256="ab" * 32)
    make_adapter(root / BASE, name=BASE)
    make_adapter(root / "by-hand", name="by-hand")
    given = settings.model_copy(update={"lora_modules": ["by-hand=/elsewhere"]})
    found = installed_adapters(given)
    assert [a.name for a in found.servable] == [
        "messaging-expert",
        "single-expert",
        "steward-expert",
    ]
    assert found.problem_lines() == [
        "by-hand: the same name is given as a LoRA module (--lora); that one is served",
        "old-expert: trained on other weights of smollm2-135m-instruct (config.json sha256 "
        f"abababababab, this model's is {SHA[:12]})",
        f"{BASE}: its name is one of the base model's served names",
    ]
    chosen = routes(found.servable)
    assert {role: a.name for role, a in chosen.items()} == {
        "<app:messaging>": "messaging-expert",
        "steward": "steward-expert",  # and `single` goes to no role
    }
    assert installed_adapters(settings.model_copy(update={"adapters_dir": None})).servable == []


def test_the_newest_expert_of_a_role_wins(tmp_path: Path) -> None:
    old = read_adapter(make_adapter(tmp_path / "a", name="a", trained_at=1.0))
    new = read_adapter(make_adapter(tmp_path / "b", name="b", trained_at=2.0))
    assert routes([new, old])["<app:messaging>"].name == "b"
    assert routes([old, new])["<app:messaging>"].name == "b"


def test_changes() -> None:
    assert changes({"a": "1", "b": "2", "c": "3"}, {"b": "2", "c": "x", "d": "4"}) == [
        "new a",
        "retrained c",
        "removed d",
    ]
    assert changes({"a": "1"}, {"a": "1"}) == []


def _running(settings: ServerSettings, modules: list[str]) -> ServerInfo:
    return ServerInfo(pid=1, pgid=1, port=settings.port, base_url=settings.base_url, model=BASE,
                      lora_modules=modules, log_file="log", started_at=0.0)  # fmt: skip


def test_a_running_server_routes_only_what_it_serves(settings: ServerSettings) -> None:
    assert settings.adapters_dir is not None
    make_adapter(settings.adapters_dir / "messaging-expert")
    make_adapter(
        settings.adapters_dir / "travel-expert", name="travel-expert", token="<app:travel>"
    )
    assert set(expert_routes(settings, None).roles) == {"<app:messaging>", "<app:travel>"}
    routing = expert_routes(settings, _running(settings, ["messaging-expert=/x"]))
    assert set(routing.roles) == {"<app:messaging>"}
    assert routing.unserved == ["travel-expert"]


# --- routing in a run's models config ---------------------------------------------------------


def _registry() -> Registry:
    return Registry(
        [
            Specialist(name="messaging", description="m", app_factory=MailApp, model="own-name"),
            Specialist(name="notes", description="n", app_factory=NotesApp),
        ]
    )


def test_each_token_goes_to_its_expert_with_compact_prompts(
    settings: ServerSettings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert settings.adapters_dir is not None
    make_adapter(settings.adapters_dir / "messaging-expert")
    make_adapter(settings.adapters_dir / "steward-expert", name="steward-expert", token="steward")
    make_adapter(settings.adapters_dir / "single-expert", name="single-expert", token="single")
    cfg = models_config(_registry(), None, None, None)
    assert cfg.resolve("<app:messaging>").model == "messaging-expert"  # over the spec's own name
    assert cfg.resolve("<app:messaging>").prompt_style == "compact"
    assert cfg.resolve("steward").model == "steward-expert"
    assert cfg.resolve("<app:notes>").model == BASE
    assert cfg.resolve("<app:notes>").prompt_style == "full"
    assert "single" not in cfg.roles

    config = tmp_path / "config.toml"
    config.write_text('[roles.steward]\nmodel = "my-planner"\n')
    mine = models_config(_registry(), str(config), None, None)
    assert mine.resolve("steward").model == "my-planner"  # the user's file wins
    assert mine.resolve("steward").prompt_style == "full"
    assert mine.resolve("<app:messaging>").model == "messaging-expert"

    off = models_config(_registry(), None, None, None, experts=False)
    assert off.resolve("<app:messaging>").model == "own-name"
    assert off.resolve("steward").model == BASE
    monkeypatch.setenv("STEWARD_EXPERTS", "0")
    assert models_config(_registry(), None, None, None).resolve("steward").model == BASE
    assert models_config(_registry(), None, None, None, experts=True).resolve("steward").model == (
        "steward-expert"
    )
    monkeypatch.delenv("STEWARD_EXPERTS")
    other = models_config(_registry(), None, "http://127.0.0.1:9/v1", "m")
    assert other.resolve("steward").model == "m"  # adapters live on the embedded server only


def test_a_running_server_without_the_expert_keeps_the_base_model(
    settings: ServerSettings,
) -> None:
    assert settings.adapters_dir is not None
    make_adapter(settings.adapters_dir / "messaging-expert")
    info = _running(settings, [])
    info.pid = os.getpid()  # "alive": this very process
    write_state(settings, info)
    cfg = models_config(_registry(), None, None, None)
    assert cfg.resolve("<app:messaging>").model == "own-name"


def test_a_run_says_which_installed_experts_the_server_does_not_serve(
    settings: ServerSettings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert settings.adapters_dir is not None
    make_adapter(settings.adapters_dir / "messaging-expert")
    with StubServer(models=[BASE]) as stub:
        info = _running(settings, [])
        info.pid, info.base_url = os.getpid(), stub.url  # "alive": this very process
        write_state(settings, info)
        cfg = models_config(_registry(), None, stub.url, None)
        ensure_backend(cfg, autostart=False, quiet=False)
        ensure_backend(cfg, autostart=False, quiet=False, experts=False)
    assert capsys.readouterr().err.splitlines() == [
        "[serve] installed experts not served yet: messaging-expert (their roles use the base "
        "model; `steward serve` restarts the server with them)"
    ]


# --- steward agents ---------------------------------------------------------------------------


def test_agents_shows_each_tokens_expert(settings: ServerSettings, tmp_path: Path) -> None:
    install(settings, make_adapter(tmp_path / "out"))
    assert settings.adapters_dir is not None
    make_adapter(settings.adapters_dir / "broken", name="broken", base_model="other")
    result = CliRunner().invoke(cli, ["agents", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    adapters = {row["task_token"]: row["adapter"] for row in data["agents"]}
    assert adapters["<app:messaging>"] == {
        "name": "messaging-expert", "steps": 12, "examples": 40, "trained_at": 1.8e9,
        "prompt_style": "compact", "served": False,
    }  # fmt: skip
    assert adapters["<app:travel>"] is None
    assert data["steward"] == {"adapter": None}
    assert data["adapter_problems"] == ["broken: trained on other, not on smollm2-135m-instruct"]
    text = CliRunner().invoke(cli, ["agents"])
    assert "messaging-expert (12 steps, 40 ex." in text.stdout
    assert "cannot serve adapter broken" in text.stderr
