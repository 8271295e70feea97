"""The training environment and the real trainer.

Unit tests find and make the environment over fake venvs (an interpreter that is a shell
script reporting versions), never installing anything. The tests marked ``vllm`` (run with
``--run-vllm``, after ``steward serve``) use the real one: peft added to the server venv, a tiny
random Llama with SmolLM2's tokenizer, a few real training steps, a kill and a resume.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest

import local.trainenv as trainenv
from local import trainer
from local.adapters import AdapterManifest
from local.settings import ServerSettings
from local.trainenv import TrainEnv, TrainEnvError, ensure_train_env, find_train_env
from local.trainjob import TrainJob, TrainProgress
from local.trainrun import TrainError, TrainSettingsError, run_job

FULL = {"torch": "2.13.0+cpu", "transformers": "5.19.0", "peft": "0.21.2"}


def _fake_venv(folder: Path, versions: dict[str, str | None] | None) -> Path:
    """A venv whose ``bin/python`` prints ``versions.json`` (exits 1 when there is none)."""
    (folder / "bin").mkdir(parents=True, exist_ok=True)
    (folder / "pyvenv.cfg").write_text("home = /usr/bin\n")
    python = folder / "bin" / "python"
    python.write_text('#!/bin/sh\nexec cat "$(dirname "$0")/versions.json"\n')
    python.chmod(python.stat().st_mode | stat.S_IXUSR)
    if versions is not None:
        (folder / "bin" / "versions.json").write_text(json.dumps(versions))
    return python


class FakeInstaller:
    """Stands for ``run_streaming``: records each command and fakes its effect."""

    def __init__(self, fail: bool = False) -> None:
        self.commands: list[list[str]] = []
        self.fail = fail

    def __call__(self, cmd: list[str], progress: Any, *, env: Any = None, what: str) -> None:
        self.commands.append(cmd)
        if self.fail:
            raise trainenv.EmbeddedServerError(f"{what} failed (exit code 1):\nno network")
        if cmd[1:3] == ["-m", "venv"]:
            _fake_venv(Path(cmd[-1]), None)
        elif "install" in cmd:
            versions = dict.fromkeys(trainenv.PACKAGES)
            for spec in cmd:
                name, _, version = spec.partition("==")
                if name in versions:
                    versions[name] = version
            known = Path(cmd[0]).parent / "versions.json"
            old = json.loads(known.read_text()) if known.exists() else {}
            merged = {k: versions[k] or old.get(k) for k in trainenv.PACKAGES}
            known.write_text(json.dumps(merged))


@pytest.fixture
def fake_dirs(tmp_path: Path) -> tuple[ServerSettings, Path]:
    return ServerSettings(venv_dir=tmp_path / "server-venv"), tmp_path / "train-venv"


@pytest.fixture
def installer(monkeypatch: pytest.MonkeyPatch) -> FakeInstaller:
    fake = FakeInstaller()
    monkeypatch.setattr(trainenv, "run_streaming", fake)
    return fake


def test_the_server_venv_is_preferred(fake_dirs: tuple[ServerSettings, Path]) -> None:
    settings, own = fake_dirs
    _fake_venv(own, FULL)
    assert find_train_env(settings, own) == TrainEnv(
        python=own / "bin" / "python", kind="own", versions=FULL
    )
    _fake_venv(settings.venv_dir, {**FULL, "peft": None})
    env = find_train_env(settings, own)
    assert env is not None and env.kind == "server" and not env.complete


def test_nothing_usable_is_none(fake_dirs: tuple[ServerSettings, Path]) -> None:
    settings, own = fake_dirs
    assert find_train_env(settings, own) is None
    _fake_venv(settings.venv_dir, None)  # the interpreter fails
    _fake_venv(own, {**FULL, "peft": None})  # an own venv must have all three
    assert find_train_env(settings, own) is None
    _fake_venv(settings.venv_dir, {**FULL, "torch": None})
    assert find_train_env(settings, own) is None


def test_peft_is_added_to_the_server_venv_keeping_its_versions(
    fake_dirs: tuple[ServerSettings, Path], installer: FakeInstaller
) -> None:
    settings, own = fake_dirs
    python = _fake_venv(settings.venv_dir, {**FULL, "peft": None})
    lines: list[str] = []
    env = ensure_train_env(progress=lines.append, settings=settings, own_dir=own)
    assert env.complete and env.kind == "server" and env.versions == FULL
    (cmd,) = installer.commands
    assert cmd[0] == str(python) and cmd[-3:] == [
        trainenv.PEFT_SPEC, "torch==2.13.0+cpu", "transformers==5.19.0",
    ]  # fmt: skip
    assert any("installing peft" in line for line in lines)
    assert not own.exists()
    installer.commands.clear()
    assert ensure_train_env(settings=settings, own_dir=own) == env
    assert installer.commands == []


def test_an_own_venv_is_made_with_the_cpu_torch(
    fake_dirs: tuple[ServerSettings, Path], installer: FakeInstaller
) -> None:
    settings, own = fake_dirs
    env = ensure_train_env(settings=settings, own_dir=own)
    assert env.kind == "own" and env.python == own / "bin" / "python" and env.complete
    venv, pip = installer.commands
    assert venv == [sys.executable, "-m", "venv", "--clear", str(own)]
    specs = [arg for arg in pip if "==" in arg]
    assert specs == list(trainenv.OWN_SPECS) and "torch==2.13.0" in specs
    assert "torch" not in pip  # never a bare torch: that would download a CUDA build


def test_install_failures_are_user_errors(
    fake_dirs: tuple[ServerSettings, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings, own = fake_dirs
    monkeypatch.setattr(trainenv, "run_streaming", FakeInstaller(fail=True))
    with pytest.raises(TrainEnvError, match="no network"):
        ensure_train_env(settings=settings, own_dir=own)
    own.mkdir()
    (own / "precious.txt").write_text("x")
    with pytest.raises(TrainEnvError, match="not a virtualenv"):
        ensure_train_env(settings=settings, own_dir=own)


# --- the real training environment (after `steward serve`) ---------------------------------

MAKE_TINY = """
import shutil, sys, torch
from pathlib import Path
from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM
src, dst = Path(sys.argv[1]), Path(sys.argv[2])
tok = AutoTokenizer.from_pretrained(src)
config = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64,
    num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
    max_position_embeddings=1024, tie_word_embeddings=True, bos_token_id=tok.bos_token_id,
    eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
torch.manual_seed(0)
LlamaForCausalLM(config).save_pretrained(dst)
tok.save_pretrained(dst)
if (src / "chat_template.jinja").exists() and not (dst / "chat_template.jinja").exists():
    shutil.copy(src / "chat_template.jinja", dst / "chat_template.jinja")
"""

CHECK_ADAPTER = """
import json, sys
from peft import PeftModel
from transformers import AutoModelForCausalLM
model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(sys.argv[1]), sys.argv[2])
lora_b = {n: float(p.abs().max()) for n, p in model.named_parameters() if "lora_B" in n}
print(json.dumps({"modules": len(lora_b), "trained": sum(v > 0 for v in lora_b.values())}))
"""

ENCODE = """
import json, sys
sys.path.insert(0, sys.argv[1])
import trainer
from transformers import AutoTokenizer
tok = AutoTokenizer.from_pretrained(sys.argv[2])
ids, labels, _ = trainer.encode_example(tok, json.loads(sys.argv[3]), sys.argv[4], 4096, "skip")
answer = tok.decode([t for t in labels if t != -100])
print(json.dumps({"prompt": ids[: labels.count(-100)], "answer": answer}))
"""

EXAMPLES = [
    ("Send hi to Bob.", '{"app": "messaging"}'),
    ("List my files.", '{"app": "files"}'),
    ("What is on my calendar?", '{"app": "calendar"}'),
]


def _in_env(env: TrainEnv, script: str, *args: str) -> str:
    done = subprocess.run(
        [str(env.python), "-P", "-c", script, *args],
        capture_output=True,
        text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "TQDM_DISABLE": "1"},
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@pytest.fixture(scope="module")
def real_env() -> TrainEnv:
    if not (ServerSettings().model_dir / "config.json").exists():
        pytest.skip("no converted SmolLM2 model: run `steward serve` once")
    return ensure_train_env()


@pytest.fixture(scope="module")
def tiny(real_env: TrainEnv, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("tiny") / "model"
    _in_env(real_env, MAKE_TINY, str(ServerSettings().model_dir), str(folder))
    return folder


def _job(tiny: Path, tmp_path: Path, name: str, **changes: Any) -> TrainJob:
    examples = tmp_path / "examples.jsonl"
    if not examples.exists():
        rows = [
            {"messages": [{"role": "system", "content": "Route."}, {"role": "user", "content": u}],
             "answer": a}
            for u, a in EXAMPLES
        ]  # fmt: skip
        examples.write_text("".join(json.dumps(r) + "\n" for r in rows))
    fields: dict[str, Any] = {"epochs": 2, "checkpoint_every": 2, "learning_rate": 1e-3}
    return TrainJob(
        base_model_dir=tiny,
        examples_file=examples,
        output_dir=tmp_path / name,
        adapter_name="tiny-expert",
        task_token="<app:tiny>",
        **{**fields, **changes},
    )


@pytest.mark.vllm
def test_trains_an_adapter_that_peft_loads(real_env: TrainEnv, tiny: Path, tmp_path: Path) -> None:
    seen: list[TrainProgress] = []
    result = run_job(_job(tiny, tmp_path, "a"), progress=seen.append, env=real_env)
    out = tmp_path / "a"
    assert (result.steps, result.examples, result.skipped, result.epochs) == (6, 3, 0, 2.0)
    assert [p.step for p in seen] == [1, 2, 3, 4, 5, 6] and seen[-1].total == 6
    assert len(result.losses) == 6 and result.loss_first == result.losses[0]
    manifest = AdapterManifest.model_validate_json((out / "steward_adapter.json").read_text())
    assert (manifest.name, manifest.task_token, manifest.steps, manifest.rank) == (
        "tiny-expert", "<app:tiny>", 6, 16,
    )  # fmt: skip
    assert manifest.base_model_sha256 == trainer.file_sha256(tiny / "config.json")
    config = json.loads((out / "adapter_config.json").read_text())
    assert config["r"] == 16 and sorted(config["target_modules"]) == sorted(
        ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    )
    assert trainer.latest_checkpoint(out) is None  # removed once finished
    loaded = json.loads(_in_env(real_env, CHECK_ADAPTER, str(tiny), str(out)))
    assert loaded == {"modules": 14, "trained": 14}  # 7 linear layers x 2 blocks, all moved


@pytest.mark.vllm
def test_prompt_tokens_are_the_servers_and_the_loss_is_on_the_answer(real_env: TrainEnv) -> None:
    model = ServerSettings().model_dir
    messages = [
        {"role": "system", "content": "Answer in JSON."},
        {"role": "user", "content": 'List "my files",\n  ünïcode and {"json": [1, 2]}'},
    ]
    answer = '{"tool": "ls", "args": {}}'
    got = json.loads(
        _in_env(real_env, ENCODE, str(Path(trainer.__file__).parent), str(model),
                json.dumps(messages), answer)
    )  # fmt: skip
    assert got["answer"] == answer + "<|im_end|>"
    status_url = os.environ.get("STEWARD_VLLM_URL") or ServerSettings().base_url
    body = {"model": ServerSettings().served_model_name, "messages": messages}
    request = urllib.request.Request(
        status_url.removesuffix("/v1") + "/tokenize",
        data=json.dumps({**body, "add_generation_prompt": True}).encode(),
        headers={"content-type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            server = json.load(response)["tokens"]
    except OSError as exc:
        pytest.skip(f"the embedded server is not running ({exc}): `steward serve`")
    assert got["prompt"] == server


def _kill_after_checkpoint(out: Path, step: int) -> Any:
    killed: list[int] = []

    def watch(line: TrainProgress) -> None:
        if line.step > step and not killed:  # `step`'s checkpoint is written before step + 1
            killed.append(int((out / trainer.LOCK_FILE).read_text()))
            os.kill(killed[0], signal.SIGKILL)

    return watch


@pytest.mark.vllm
def test_killed_or_stopped_jobs_resume_where_they_were(
    real_env: TrainEnv, tiny: Path, tmp_path: Path
) -> None:
    long = {"epochs": 40, "checkpoint_every": 5}  # 120 steps: a kill lands mid-way
    whole = run_job(_job(tiny, tmp_path, "whole", **long), env=real_env)
    killed = _job(tiny, tmp_path, "killed", **long)
    with pytest.raises(TrainError, match="exit code -9"):
        run_job(killed, progress=_kill_after_checkpoint(killed.output_dir, 5), env=real_env,
                poll_s=0.02)  # fmt: skip
    checkpoint = trainer.latest_checkpoint(killed.output_dir)
    assert checkpoint is not None
    resumed = run_job(killed, env=real_env)
    assert 5 <= resumed.resumed_from_step < 120
    assert resumed.steps == 120 and resumed.losses == pytest.approx(whole.losses, rel=1e-4)

    stopped = _job(tiny, tmp_path, "stopped", **{**long, "checkpoint_every": 0})

    def interrupt(line: TrainProgress) -> None:
        if line.step >= 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_job(stopped, progress=interrupt, env=real_env, poll_s=0.02)
    assert trainer.latest_checkpoint(stopped.output_dir) is not None  # saved on the signal
    again = run_job(stopped, env=real_env)
    assert again.resumed_from_step >= 3
    assert again.losses == pytest.approx(whole.losses, rel=1e-4)

    with pytest.raises(TrainSettingsError, match="other settings"):
        run_job(_job(tiny, tmp_path, "stopped", **{**long, "seed": 1}), env=real_env)
