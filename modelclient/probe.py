"""Probe an endpoint once for the structured-output features it honours, and cache the answer.

A feature counts as honoured when a tiny request using it returns JSON that parses strictly
and validates under a schema with an enum the model could not guess without the constraint.
Results are kept in ``core.cache_dir()/probes.json``, keyed by base URL and model, so that
``steward serve --status`` can show them. Replicas of one model (``EndpointConfig.base_urls``)
are probed once as a set, keyed by their URLs joined with commas: they serve the same model.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, ValidationError

from core.errors import ModelOutputError, ServerError
from core.paths import cache_dir
from modelclient.config import StructuredMode
from modelclient.structured import schema_prompt, validate

if TYPE_CHECKING:
    from modelclient.transport import ChatReply

logger = logging.getLogger("steward.modelclient")

PROBE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"status": {"type": "string", "enum": ["probe-ok-7", "probe-ok-9"]}},
    "required": ["status"],
    "additionalProperties": False,
}
"""The schema every probe request asks for."""

_PROBE_MAX_TOKENS = 32
_KNOWN: dict[str, ProbeResult] = {}  # probed in this process, by probe_key
_TOOL = "report_status"

Send = Callable[[list[dict[str, str]], dict[str, Any]], Awaitable["ChatReply"]]


class ProbeResult(BaseModel):
    """What one endpoint honours, and the structured-output mode chosen for it."""

    model_config = ConfigDict(extra="forbid")

    base_url: str
    """Endpoint probed."""
    model: str
    """Served model name probed."""
    json_schema: bool
    """``response_format`` of type ``json_schema`` was honoured."""
    json_object: bool
    """``response_format`` of type ``json_object`` (with the schema in the prompt) was honoured."""
    tool_calls: bool
    """A forced function call returned arguments valid under the schema."""
    mode: StructuredMode
    """The mode used for structured calls: the best one honoured, else ``repair``."""
    probed_at: float = 0.0
    """Unix time of the probe."""
    latency_s: float = 0.0
    """Seconds the probe took."""


def _valid(text: str | None) -> bool:
    try:
        data = json.loads(text or "")
    except json.JSONDecodeError:
        return False
    return not validate(PROBE_SCHEMA, data)


async def _check(
    name: str, send: Send, messages: list[dict[str, str]], params: dict[str, Any]
) -> bool | ServerError:
    try:
        response = await send(messages, {"max_tokens": _PROBE_MAX_TOKENS, **params})
    except ModelOutputError as exc:  # includes RequestRejected (400/422)
        logger.info("probe %s: not honoured (%s)", name, exc)
        return False
    except ServerError as exc:  # run_probe decides: a dead server, or one feature it fails on
        return exc
    if name == "tool_calls":
        return response.tool_arguments is not None and _valid(response.tool_arguments)
    return _valid(response.text)


async def run_probe(send: Send, base_url: str, model: str) -> ProbeResult:
    """Send the three probe requests at once and decide the structured-output mode.

    ``ServerUnreachableError`` and ``ConfigError`` propagate. ``ServerError`` (5xx, 429,
    timeouts after the retries) propagates when every probe request failed that way: the
    server is down, which says nothing about what it honours. When only some did, those
    features count as "not honoured" (a server may crash on a feature it lacks, as some
    answer 500 to ``tools``), like any other failure of one probe request.
    """
    t0 = time.perf_counter()
    started = time.time()
    fmt_schema = {"name": "probe", "schema": PROBE_SCHEMA, "strict": True}
    tool = {"name": _TOOL, "description": "Report the status.", "parameters": PROBE_SCHEMA}
    try:
        async with asyncio.TaskGroup() as group:
            js = group.create_task(
                _check(
                    "json_schema",
                    send,
                    [{"role": "user", "content": "Say hello."}],
                    {"response_format": {"type": "json_schema", "json_schema": fmt_schema}},
                )
            )
            jo = group.create_task(
                _check(
                    "json_object",
                    send,
                    [
                        {"role": "system", "content": schema_prompt(PROBE_SCHEMA)},
                        {"role": "user", "content": "Give the status."},
                    ],
                    {"response_format": {"type": "json_object"}},
                )
            )
            tc = group.create_task(
                _check(
                    "tool_calls",
                    send,
                    [{"role": "user", "content": "Report the status."}],
                    {
                        "tools": [{"type": "function", "function": tool}],
                        "tool_choice": {"type": "function", "function": {"name": _TOOL}},
                    },
                )
            )
    except BaseExceptionGroup as group_error:
        raise group_error.exceptions[0] from None
    outcomes = {"json_schema": js.result(), "json_object": jo.result(), "tool_calls": tc.result()}
    failures = [o for o in outcomes.values() if isinstance(o, ServerError)]
    if len(failures) == len(outcomes):
        raise failures[0]
    for name, outcome in outcomes.items():
        if isinstance(outcome, ServerError):
            logger.warning("probe %s: not honoured (the server kept failing: %s)", name, outcome)
    honoured = {name: outcome is True for name, outcome in outcomes.items()}
    mode: StructuredMode = (
        "json_schema"
        if honoured["json_schema"]
        else "json_object"
        if honoured["json_object"]
        else "repair"
    )
    result = ProbeResult(
        base_url=base_url,
        model=model,
        json_schema=honoured["json_schema"],
        json_object=honoured["json_object"],
        tool_calls=honoured["tool_calls"],
        mode=mode,
        probed_at=started,
        latency_s=time.perf_counter() - t0,
    )
    logger.info("probe %s %s: mode %s", base_url, model, mode)
    return result


def known_probe(base_url: str, model: str) -> ProbeResult | None:
    """The result of an earlier probe of this endpoint in this process, if any."""
    return _KNOWN.get(probe_key(base_url, model))


def remember_probe(result: ProbeResult) -> None:
    """Keep ``result`` for later pools in this process (see :func:`known_probe`)."""
    _KNOWN[probe_key(result.base_url, result.model)] = result


def probes_path() -> Path:
    """Where probe results are kept: ``core.cache_dir()/probes.json``."""
    return cache_dir() / "probes.json"


def probe_key(base_url: str, model: str) -> str:
    """The key of one endpoint in the probe cache file."""
    return f"{base_url.rstrip('/')} {model}"


def load_probes(path: Path | None = None) -> dict[str, ProbeResult]:
    """Every cached probe result, keyed by :func:`probe_key`; empty if missing or unreadable."""
    file = path or probes_path()
    try:
        raw = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}
    out: dict[str, ProbeResult] = {}
    if isinstance(raw, dict):
        for key, value in raw.items():
            try:
                out[key] = ProbeResult.model_validate(value)
            except ValidationError:
                continue
    return out


def load_probe(base_url: str, model: str, path: Path | None = None) -> ProbeResult | None:
    """The cached probe result of one endpoint, if any."""
    return load_probes(path).get(probe_key(base_url, model))


def save_probe(result: ProbeResult, path: Path | None = None) -> None:
    """Add ``result`` to the probe cache file (atomic replace; best effort, never raises)."""
    file = path or probes_path()
    probes = load_probes(file)
    probes[probe_key(result.base_url, result.model)] = result
    payload = {key: value.model_dump() for key, value in sorted(probes.items())}
    tmp = file.with_name(f".{file.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(json.dumps(payload, indent=2), encoding="utf-8")
        tmp.replace(file)
    except OSError as exc:
        logger.debug("cannot write probe cache %s: %s", file, exc)
