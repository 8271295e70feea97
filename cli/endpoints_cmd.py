"""``steward endpoints``: every model endpoint of the config, probed once now, with the live
counters of the Steward processes running against it."""

from __future__ import annotations

import json
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import click

from modelclient.balance import read_live
from modelclient.config import ModelsConfig, load_models_config


def replicas(config: ModelsConfig) -> dict[str, dict[str, Any]]:
    """Base URL -> its API key and the models the config expects there, each with its roles
    (``default`` for the default endpoint), in config order."""
    out: dict[str, dict[str, Any]] = {}
    for role in ["default", *config.roles]:
        endpoint = config.default if role == "default" else config.resolve(role)
        for url in endpoint.base_urls:
            entry = out.setdefault(url, {"api_key": endpoint.api_key, "models": {}})
            entry["models"].setdefault(endpoint.model, []).append(role)
    return out


def check(url: str, api_key: str, timeout_s: float) -> dict[str, Any]:
    """``GET {url}/models`` once: whether the server answers, in how long, and what it serves."""
    request = urllib.request.Request(
        f"{url}/models", headers={"Authorization": f"Bearer {api_key}"}
    )
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            body = json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return {"health": "error", "detail": f"HTTP {exc.code}", "served": None, "latency_ms": None}
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        return {"health": "down", "detail": str(reason), "served": None, "latency_ms": None}
    latency = round(1000 * (time.perf_counter() - started), 1)
    data = body.get("data") if isinstance(body, dict) else None
    served = [str(m.get("id")) for m in data or [] if isinstance(m, dict)]
    return {"health": "up", "detail": "", "served": served, "latency_ms": latency}


def live_counters(processes: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Base URL -> the counters of every running process, summed (latency: weighted mean)."""
    out: dict[str, dict[str, Any]] = {}
    for process in processes:
        for item in process.get("endpoints") or []:
            total = out.setdefault(
                item["url"],
                {"in_flight": 0, "requests": 0, "errors": 0, "latency_ms": None, "processes": 0},
            )
            total["processes"] += 1
            if item.get("latency_ms") is not None:
                done, mean = total["requests"], total["latency_ms"] or 0.0
                weight = max(int(item["requests"]), 1)
                total["latency_ms"] = round(
                    (mean * done + item["latency_ms"] * weight) / (done + weight), 1
                )
            for key in ("in_flight", "requests", "errors"):
                total[key] += int(item.get(key) or 0)
            if item.get("cooling_down_s"):
                total["cooling_down_s"] = item["cooling_down_s"]
            if item.get("last_error"):
                total["last_error"] = item["last_error"]
    return out


def report(config: ModelsConfig, timeout_s: float) -> dict[str, Any]:
    """The ``--json`` report: one entry per replica, and the running processes."""
    wanted = replicas(config)
    processes = read_live()
    live = live_counters(processes)
    urls = [*wanted, *(u for u in live if u not in wanted)]
    with ThreadPoolExecutor(max_workers=min(16, len(urls) or 1)) as pool:
        found = list(
            pool.map(lambda u: check(u, wanted.get(u, {}).get("api_key", "EMPTY"), timeout_s), urls)
        )
    endpoints = []
    for url, probe in zip(urls, found, strict=True):
        models = wanted.get(url, {}).get("models", {})
        served = probe.pop("served")
        missing = [m for m in models if served is not None and m not in served]
        if missing:
            probe["health"] = "missing-model"
            probe["detail"] = f"does not serve {', '.join(missing)}"
        endpoints.append(
            {
                "url": url,
                "in_config": url in wanted,
                "models": models,
                **probe,
                "live": live.get(url),
            }
        )
    return {"endpoints": endpoints, "processes": processes}


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f} ms"


def show(data: dict[str, Any]) -> None:
    """The report as text: one line per replica, then the processes counted."""
    for entry in data["endpoints"]:
        roles = "; ".join(f"{m} ({', '.join(r)})" for m, r in entry["models"].items())
        where = roles or "not in the config (seen in a running process)"
        latency = entry.get("latency_ms")
        probe = entry["health"] + ("" if latency is None else f" in {_ms(latency)}")
        if entry["detail"]:
            probe += f" ({entry['detail']})"
        click.echo(f"{entry['url']}  {where}")
        click.echo(f"  probe now: {probe}")
        live = entry["live"]
        if live:
            cool = live.get("cooling_down_s")
            line = (
                f"  live: {live['in_flight']} in flight, {live['requests']} requests, "
                f"{live['errors']} errors, mean latency {_ms(live['latency_ms'])}"
            )
            line += f", put aside for {cool:g} s more" if cool else ""
            line += f"; last error: {live['last_error']}" if live.get("last_error") else ""
            click.echo(line)
    processes = data["processes"]
    if processes:
        click.echo(f"live counters of {len(processes)} running process(es):")
        for p in processes:
            age = time.time() - float(p.get("updated_at") or 0)
            click.echo(f"  pid {p['pid']}: {p.get('command', '')} (updated {age:.0f} s ago)")
    else:
        click.echo("no running Steward process has sent requests (no live counters)")


@click.command("endpoints")
@click.option("--config", metavar="FILE", help="Models config (TOML).")
@click.option(
    "--base-url",
    metavar="URL[,URL...]",
    help="Check this server (or these replicas) instead of the config's default endpoint.",
)
@click.option("--model", metavar="NAME", help="The served model name expected there.")
@click.option(
    "--timeout",
    type=click.FloatRange(0.1, 120.0),
    default=5.0,
    show_default=True,
    help="Seconds to wait for each replica's answer.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def endpoints(
    config: str | None, base_url: str | None, model: str | None, timeout: float, as_json: bool
) -> None:
    """Each model endpoint (every replica of every role) with its health and latency, probed
    once now (GET /models: does it answer, does it serve the configured model), and the live
    counters of the Steward processes running now: requests in flight, requests, errors, mean
    latency and whether the replica is put aside after failing.

    Live counters are what each running process saw of its own requests, written at most once
    a second to the cache folder; other clients of the same server are not counted. Exit
    code 1 when a replica of the config is down or lacks its model.

    \b
    Examples:
      steward endpoints
      steward endpoints --base-url http://gpu1:8000/v1,http://gpu2:8000/v1 --json
    """
    cfg = load_models_config(Path(config) if config else None, base_url=base_url, model=model)
    data = report(cfg, timeout)
    if as_json:
        click.echo(json.dumps(data, indent=2))
    else:
        show(data)
    if any(e["in_config"] and e["health"] != "up" for e in data["endpoints"]):
        sys.exit(1)
