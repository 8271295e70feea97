"""A trained expert on the real embedded vLLM server (``pytest --run-vllm``): a real peft LoRA
adapter for SmolLM2-135M is installed, the server is restarted through Steward's own code to
serve it, ``/v1/models`` lists it, a staff agent's token is routed to it with compact prompts,
and the action it decodes validates against the app's action schema. The server is then put
back as it was (same aliases, LoRA modules and installed adapters; stopped if it was not
running). Takes about a minute: two restarts of ~25 s and ~15 s to make the adapter.
"""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from agents import AgentSettings, StaffAgent, compact, default_registry
from agents.records import Attempt
from apps import make_bfcl_app
from cli.build import models_config
from local.adapters import MANIFEST, AdapterManifest, adapter_name, base_model_sha256
from local.experts import install_expert
from local.process import served_models
from local.server import ServerInfo, ServerSettings, running_server, start_server, stop_server
from modelclient import ModelPool

pytestmark = pytest.mark.vllm

PEFT_SPEC = "peft==0.21.2"
"""Pinned as the trainer's environment pins it (``local.trainenv.PEFT_SPEC``)."""
TOKEN = "<app:vehicle>"

MAKE_ADAPTER = """
import sys, torch
from peft import LoraConfig, get_peft_model
from transformers import AutoModelForCausalLM
model = AutoModelForCausalLM.from_pretrained(sys.argv[1], dtype=torch.float32)
config = LoraConfig(r=8, lora_alpha=16, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM")
get_peft_model(model, config).save_pretrained(sys.argv[2])  # B starts at zero: a valid no-op
"""


def _progress(line: str) -> None:
    print(f"[serve] {line}", flush=True)


def _train_python(settings: ServerSettings) -> Path:
    """An interpreter with torch, transformers and peft: the trainer's environment when that
    module is there, else the server venv with peft added (pinned)."""
    try:
        from local.trainenv import ensure_train_env
    except ImportError:  # the trainer's environment module has not landed
        python = settings.venv_dir / "bin" / "python"
        has = subprocess.run([str(python), "-c", "import peft"], capture_output=True, check=False)
        if has.returncode != 0:
            subprocess.run(
                [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                 PEFT_SPEC], check=True, timeout=600,
            )  # fmt: skip
        return python
    return ensure_train_env(progress=_progress, settings=settings).python


def _make_adapter(settings: ServerSettings, out: Path) -> Path:
    """An untrained LoRA (r=8 on q_proj, v_proj) saved by peft, with Steward's manifest."""
    subprocess.run(
        [str(_train_python(settings)), "-c", MAKE_ADAPTER, str(settings.model_dir), str(out)],
        check=True,
        timeout=600,
    )
    digest = base_model_sha256(settings.model_dir)
    assert digest is not None
    manifest = AdapterManifest(
        name=adapter_name(TOKEN),
        task_token=TOKEN,
        base_model=settings.served_model_name,
        base_model_sha256=digest,
        rank=8,
        sources=["test:untrained"],
    )
    (out / MANIFEST).write_text(manifest.model_dump_json(indent=2))
    return out


def _settings_of(info: ServerInfo) -> ServerSettings:
    """Settings that start the server ``info`` describes again."""
    adapters_dir = Path(info.adapters_dir) if info.adapters_dir else None
    explicit = [m for m in info.lora_modules if m.partition("=")[0] not in info.adapters]
    return ServerSettings(port=info.port, aliases=info.aliases, lora_modules=explicit,
                          adapters_dir=adapters_dir)  # fmt: skip


@pytest.fixture
def restored() -> Iterator[ServerSettings]:
    """The embedded server's settings; afterwards the server is as it was before the test."""
    settings = ServerSettings()
    before = running_server(settings)
    try:
        yield settings
    finally:
        if before is None:
            stop_server(settings)
        else:
            start_server(_settings_of(before), _progress, restart=True)


def test_an_installed_expert_is_served_and_its_token_routed_to_it(
    restored: ServerSettings, tmp_path: Path
) -> None:
    settings = restored
    if not (settings.model_dir / "config.json").exists():  # the model comes with a first start
        start_server(settings, _progress)
    adapter = install_expert(_make_adapter(settings, tmp_path / "out"), settings)
    assert adapter.ok and adapter.rank == 8

    info = start_server(settings, _progress, restart=True)
    assert info.adapters.keys() == {"vehicle-expert"}
    assert "vehicle-expert" in (served_models(info.base_url, timeout_s=10) or [])

    cfg = models_config(default_registry(), None, None, None)
    endpoint = cfg.resolve(TOKEN)
    assert (endpoint.model, endpoint.prompt_style) == ("vehicle-expert", "compact")
    assert cfg.resolve("<app:travel>").model == settings.served_model_name

    spec = default_registry().get("vehicle")
    app = make_bfcl_app("vehicle", {})

    async def decode() -> tuple[StaffAgent, Attempt]:
        async with ModelPool(cfg) as pool:
            staff = StaffAgent(spec, app, pool.for_role(TOKEN), AgentSettings(max_steps=1))
            return staff, await staff.attempt("Lock all the doors of the car")

    staff, attempt = asyncio.run(decode())
    assert staff.system == compact.staff_system(spec.name, list(staff.tools.values()))
    call = attempt.calls[0]
    assert call.model == "vehicle-expert" and call.usage.completion_tokens > 0
    (step,) = attempt.steps
    action = step.action
    decoded = {"thought": action.thought, "tool": action.tool}
    decoded |= (
        {"result": action.result} if action.tool == "finish" else {"arguments": action.arguments}
    )
    assert list(Draft202012Validator(staff.schema).iter_errors(decoded)) == []
