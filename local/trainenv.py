"""The training environment: a Python with torch, transformers and peft, kept out of the
framework's venv (which must not carry torch).

The embedded server's venv (``ServerSettings.venv_dir``) is preferred: vLLM's CPU build already
brought torch and transformers, so only peft is added, pinned to the versions already there.
Without it, a venv of its own is made under ``cache_dir()/train-venv`` with the CPU torch that
lies on disk (``torch==2.13.0``; a bare ``torch`` would download a CUDA build).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

from core.errors import UserError
from core.paths import cache_dir
from local.install import run_streaming
from local.settings import EmbeddedServerError, Progress, ServerSettings, no_progress

PEFT_SPEC = "peft==0.21.2"
"""peft for the trainer; works with transformers 5.19 (the server venv) and 5.24."""
OWN_SPECS = ("torch==2.13.0", "transformers==5.24.0", PEFT_SPEC)
"""What a venv of its own gets; the exact torch pin takes the CPU wheel from disk."""
PACKAGES = ("torch", "transformers", "peft")
_PROBE = (
    "import json, importlib.metadata as m\n"
    "def v(n):\n"
    "    try:\n"
    "        return m.version(n)\n"
    "    except m.PackageNotFoundError:\n"
    "        return None\n"
    f"print(json.dumps({{n: v(n) for n in {PACKAGES!r}}}))\n"
)


class TrainEnvError(UserError):
    """The training environment is missing or broken and could not be made; the message says
    what failed and what to do."""


class TrainEnv(BaseModel):
    """A Python that can run the trainer."""

    model_config = ConfigDict(extra="forbid")

    python: Path
    """Its interpreter."""
    kind: Literal["server", "own"]
    """``server``: the embedded server's venv; ``own``: ``cache_dir()/train-venv``."""
    versions: dict[str, str | None]
    """Installed versions of torch, transformers and peft (None: missing)."""

    @property
    def complete(self) -> bool:
        """True when torch, transformers and peft are all there."""
        return all(self.versions.get(name) for name in PACKAGES)


def own_venv_dir() -> Path:
    """Where a training venv of its own lives."""
    return cache_dir() / "train-venv"


def probe(python: Path) -> dict[str, str | None] | None:
    """The versions of torch, transformers and peft that ``python`` has, or None when it does
    not start (no interpreter, a broken venv)."""
    if not python.exists():
        return None
    try:
        done = subprocess.run(
            [str(python), "-P", "-c", _PROBE], capture_output=True, text=True, timeout=120
        )
        found = json.loads(done.stdout) if done.returncode == 0 else None
    except (OSError, subprocess.TimeoutExpired, ValueError):
        return None
    return {name: found.get(name) for name in PACKAGES} if isinstance(found, dict) else None


def find_train_env(
    settings: ServerSettings | None = None, own_dir: Path | None = None
) -> TrainEnv | None:
    """The environment the trainer would use, as it is now (nothing installed): the server venv
    when its interpreter has torch and transformers, else the own venv when it has all three."""
    settings = settings or ServerSettings()
    server_python = settings.venv_dir / "bin" / "python"
    found = probe(server_python)
    if found and found["torch"] and found["transformers"]:
        return TrainEnv(python=server_python, kind="server", versions=found)
    own_python = (own_dir or own_venv_dir()) / "bin" / "python"
    found = probe(own_python)
    if found and all(found.values()):
        return TrainEnv(python=own_python, kind="own", versions=found)
    return None


def _run(cmd: list[str], progress: Progress, what: str) -> None:
    try:
        run_streaming(cmd, progress, what=what)
    except EmbeddedServerError as exc:
        raise TrainEnvError(str(exc)) from None


def _pip(python: Path) -> list[str]:
    return [str(python), "-m", "pip", "--disable-pip-version-check", "install"]


def ensure_train_env(
    *,
    progress: Progress = no_progress,
    settings: ServerSettings | None = None,
    own_dir: Path | None = None,
) -> TrainEnv:
    """Find or make the training environment; return it complete.

    The server venv gets peft (``PEFT_SPEC``) when it lacks it, with its torch and transformers
    pinned to what is installed so vLLM's stay untouched. Without a usable server venv, the
    own venv is created (``python -m venv``, then ``OWN_SPECS``: about 85 s, once)."""
    env = find_train_env(settings, own_dir)
    if env is not None and env.complete:
        progress(f"training environment ready: {env.python} ({env.kind})")
        return env
    if env is not None:  # the server venv, without peft
        keep = [f"{name}=={env.versions[name]}" for name in ("torch", "transformers")]
        progress(f"installing {PEFT_SPEC} into the server venv ({', '.join(keep)} kept)")
        _run([*_pip(env.python), "--progress-bar", "off", PEFT_SPEC, *keep], progress, PEFT_SPEC)
    else:
        folder = own_dir or own_venv_dir()
        python = folder / "bin" / "python"
        if folder.exists() and any(folder.iterdir()) and not (folder / "pyvenv.cfg").exists():
            raise TrainEnvError(f"{folder} exists and is not a virtualenv; remove it")
        progress(f"creating the training venv at {folder} (first time: ~90 s)")
        folder.parent.mkdir(parents=True, exist_ok=True)
        if probe(python) is None:
            _run([sys.executable, "-m", "venv", "--clear", str(folder)], progress, "creating venv")
        progress(f"installing {' '.join(OWN_SPECS)}")
        _run([*_pip(python), "--progress-bar", "off", *OWN_SPECS], progress, "installing torch")
    env = find_train_env(settings, own_dir)
    if env is None or not env.complete:
        shown = env.versions if env else "no interpreter"
        raise TrainEnvError(
            f"the training environment is still incomplete after installing ({shown}); "
            "remove it and try again"
        )
    progress(f"training environment ready: {env.python} ({env.kind})")
    return env
