"""The embedded model server: vLLM's CPU build serving SmolLM2-135M-Instruct on this machine.

``start_server`` installs what is missing (a venv of its own, the converted model), launches
vLLM's OpenAI-compatible server detached from the caller, and waits until it answers.
``server_status``, ``stop_server`` and ``ensure_running`` manage it through a small JSON state
file. Any other OpenAI-compatible server (vLLM on a GPU) needs none of this: pass its URL.
"""

from __future__ import annotations

import logging
import time

from core.errors import ServerUnreachableError
from local.experts import (
    carried_over,
    changes,
    digests,
    installed_adapters,
    module_name,
    with_adapters,
)
from local.install import ensure_model, ensure_venv
from local.process import (
    build_command,
    kill_leftovers,
    launch,
    log_tail,
    process_start_ticks,
    read_state,
    remove_state,
    same_boot,
    served_models,
    server_alive,
    state_lock,
    stop_group,
    write_state,
)
from local.settings import (
    EmbeddedServerError,
    Progress,
    ServerInfo,
    ServerSettings,
    ServerStatus,
    no_progress,
    read_probe,
)

__all__ = [
    "EmbeddedServerError",
    "ServerInfo",
    "ServerSettings",
    "ServerStatus",
    "embedded_base_url",
    "ensure_model",
    "ensure_running",
    "ensure_venv",
    "read_probe",
    "running_server",
    "server_status",
    "start_server",
    "stop_server",
]

logger = logging.getLogger("steward.modelclient")

_POLL_S = 1.0
_REPORT_EVERY_S = 5.0


def embedded_base_url(settings: ServerSettings | None = None) -> str:
    """Base URL of the embedded server: the running one's if recorded, else the configured."""
    settings = settings or ServerSettings()
    info = read_state(settings)
    return info.base_url if info is not None else settings.base_url


def running_server(settings: ServerSettings) -> ServerInfo | None:
    """The recorded embedded server if its process is alive (answering or still starting)."""
    info = read_state(settings)
    return info if info is not None and server_alive(info) else None


def _missing(settings: ServerSettings, info: ServerInfo) -> list[str]:
    """What ``settings`` asks for by hand that the running server lacks."""
    problems = []
    if info.port != settings.port:
        problems.append(f"it listens on port {info.port}, not {settings.port}")
    missing = set(settings.served_names) - {info.model, *info.aliases}
    if missing:
        problems.append(f"it does not serve {', '.join(sorted(missing))}")
    missing_lora = set(settings.lora_modules) - set(info.lora_modules)
    if missing_lora:
        problems.append(f"it lacks LoRA modules {', '.join(sorted(missing_lora))}")
    return problems


def _check_compatible(settings: ServerSettings, info: ServerInfo) -> None:
    """Refuse to hand back a running server that lacks what ``settings`` asks for."""
    problems = _missing(settings, info)
    if problems:
        raise EmbeddedServerError(
            f"the embedded server is already running (pid {info.pid}) but {'; '.join(problems)}; "
            "stop it with `steward serve --stop` and start it again"
        )


def _wait_ready(settings: ServerSettings, info: ServerInfo, progress: Progress) -> float:
    """Poll ``/v1/models`` until the server lists its model; return the seconds since launch."""
    last_report = time.monotonic()
    while True:
        elapsed = time.time() - info.started_at
        models = served_models(info.base_url, timeout_s=2.0)
        if models is not None and info.model in models:
            return elapsed
        if not server_alive(info):
            tail = "\n".join(log_tail(settings.log_file, lines=15))
            raise EmbeddedServerError(
                f"the vLLM server exited during start-up; log: {settings.log_file}\n{tail}"
            )
        if elapsed > settings.start_timeout_s:
            raise EmbeddedServerError(
                f"the vLLM server did not answer within {settings.start_timeout_s:.0f} s; "
                f"log: {settings.log_file}"
            )
        if time.monotonic() - last_report >= _REPORT_EVERY_S:
            last = log_tail(settings.log_file)
            progress(f"waiting for vLLM ({elapsed:.0f} s): {last[0][:140] if last else '...'}")
            last_report = time.monotonic()
        time.sleep(_POLL_S)


def _restart_reason(settings: ServerSettings, info: ServerInfo) -> str | None:
    """Why a running server must restart to serve what is installed and asked for, or None."""
    if info.port != settings.port:
        return None  # another port is another server: refused by _check_compatible
    wanted = digests(installed_adapters(carried_over(settings, info)).servable)
    reasons = changes(wanted, info.adapters) + _missing(settings, info)
    return "; ".join(reasons) or None


def start_server(
    settings: ServerSettings, progress: Progress = no_progress, *, restart: bool = False
) -> ServerInfo:
    """Return the running embedded server, starting it (and installing it first) if needed.
    It serves every installed adapter that fits its model (``settings.adapters_dir``).

    With ``restart``, a running server whose adapters differ from those installed (new,
    retrained, removed), or that lacks a name or LoRA module asked for, is stopped and started
    again (keeping the aliases and LoRA modules it was given by hand); without, it is handed
    back as it is.

    First run: ~2-3 min to install (~3.5 GB), ~30 s to convert the model; then each start
    takes ~20-25 s. The server keeps running after this process exits.
    """
    with state_lock(settings):
        info = read_state(settings)
        if info is not None and server_alive(info):
            reason = _restart_reason(settings, info) if restart else None
            if reason is None:
                _check_compatible(settings, info)
                if served_models(info.base_url) is None:
                    progress(f"the embedded server (pid {info.pid}) is starting; waiting")
                    info.ready_after_s = _wait_ready(settings, info, progress)
                progress(f"embedded server running at {info.base_url} (pid {info.pid})")
                return info
            progress(f"restarting the embedded server (pid {info.pid}): {reason}")
            settings = carried_over(settings, info)
            stop_group(info.pid, info.pgid, timeout_s=10.0)
            remove_state(settings)
        elif info is not None:
            _clean_stale(settings, info)
        return _launch(settings, progress)


def _launch(settings: ServerSettings, progress: Progress) -> ServerInfo:
    """Install what is missing, launch vLLM with the installed adapters, wait until ready."""
    python = ensure_venv(settings, progress)
    model_dir = ensure_model(settings, progress, python)
    if served_models(settings.base_url, timeout_s=1.0) is not None:
        raise EmbeddedServerError(
            f"another server already answers at {settings.base_url}; use it with --base-url, "
            "or pick another port"
        )
    adapters = installed_adapters(settings)
    for line in adapters.problem_lines():
        progress(f"not serving adapter {line}")
    served = with_adapters(settings, adapters.servable)
    if served.lora_modules:
        progress(f"serving LoRA adapters: {', '.join(map(module_name, served.lora_modules))}")
    cmd = build_command(served, python, model_dir)
    progress(f"starting vLLM on {settings.base_url} (log: {settings.log_file})")
    logger.info("launching %s", " ".join(cmd))
    started_at = time.time()
    pid, pgid = launch(settings, cmd)
    info = ServerInfo(
        pid=pid,
        pgid=pgid,
        start_ticks=process_start_ticks(pid),
        port=settings.port,
        base_url=settings.base_url,
        model=settings.served_model_name,
        aliases=[name for name in settings.served_names if name != settings.served_model_name],
        lora_modules=served.lora_modules,
        adapters=digests(adapters.servable),
        adapters_dir=str(settings.adapters_dir) if settings.adapters_dir else None,
        log_file=str(settings.log_file),
        started_at=started_at,
    )
    write_state(settings, info)
    try:
        info.ready_after_s = round(_wait_ready(settings, info, progress), 2)
    except BaseException:
        stop_group(info.pid, info.pgid)
        remove_state(settings)
        raise
    write_state(settings, info)
    progress(f"ready after {info.ready_after_s:.1f} s: {info.base_url} serves {info.model}")
    return info


def _clean_stale(settings: ServerSettings, info: ServerInfo) -> None:
    """The recorded server is gone: end any worker it left behind and forget it."""
    logger.info("removing stale server state (pid %s is gone)", info.pid)
    if same_boot(info):
        markers = ("VLLM::", "vllm.entrypoints", str(settings.venv_dir))
        leftovers = kill_leftovers(info.pgid, markers)
        if leftovers:
            logger.info("killed processes %s left behind by the dead server", leftovers)
    remove_state(settings)


def stop_server(settings: ServerSettings) -> bool:
    """Stop the embedded server's whole process group (SIGTERM, then SIGKILL after ~10 s) and
    remove the state file. Return True if a server was running."""
    with state_lock(settings):
        info = read_state(settings)
        if info is None:
            return False
        if not server_alive(info):
            _clean_stale(settings, info)
            return False
        stop_group(info.pid, info.pgid, timeout_s=10.0)
        remove_state(settings)
        return True


def server_status(settings: ServerSettings) -> ServerStatus:
    """Whether the embedded server runs and answers; a state file whose process is gone is
    cleaned up (``stale_state_removed``)."""
    info = read_state(settings)
    adapters = installed_adapters(settings)
    if info is None or not server_alive(info):
        if info is not None:
            with state_lock(settings):
                _clean_stale(settings, info)
        return ServerStatus(
            pending_adapters=[adapter.name for adapter in adapters.servable],
            adapter_problems=adapters.problem_lines(),
            running=False,
            base_url=settings.base_url,
            model=settings.served_model_name,
            log_file=str(settings.log_file),
            stale_state_removed=info is not None,
            probe=read_probe(settings.base_url, settings.served_model_name, settings.probes_file),
        )
    models = served_models(info.base_url)
    return ServerStatus(
        running=True,
        healthy=models is not None,
        pid=info.pid,
        base_url=info.base_url,
        model=info.model,
        models=models or [],
        uptime_s=round(time.time() - info.started_at, 1),
        log_file=info.log_file,
        probe=read_probe(info.base_url, info.model, settings.probes_file),
        adapters=[module_name(module) for module in info.lora_modules],
        pending_adapters=[
            line.split(" ", 1)[1] for line in changes(digests(adapters.servable), info.adapters)
        ],
        adapter_problems=adapters.problem_lines(),
    )


def ensure_running(
    settings: ServerSettings, progress: Progress = no_progress, *, autostart: bool = True
) -> ServerInfo:
    """The running embedded server, for ``steward run`` without ``--base-url``: started when
    it is not running and ``autostart`` is set, else ``ServerUnreachableError``."""
    info = read_state(settings)
    if info is not None and server_alive(info) and served_models(info.base_url) is not None:
        return info
    if not autostart:
        detail = "still starting" if info is not None and server_alive(info) else "not running"
        raise ServerUnreachableError(
            settings.base_url, detail=detail, hint="start it with `steward serve`"
        )
    return start_server(settings, progress)
