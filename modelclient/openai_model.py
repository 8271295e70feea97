"""The real client: any OpenAI-compatible server (the embedded vLLM, a GPU vLLM, others).

Structured output is asked for in the best mode the endpoint honours: JSON Schema, then JSON
mode with the schema in the system prompt, then plain text with the schema in the prompt and
parse-and-repair. The mode is probed once per (base URL, model); replicas of one model
(``base_urls``) are probed once as a set, the probe's requests going through the balancer like
any other: they serve the same model, and a replica that refuses a mode anyway is covered by
the per-request fallback below. A mode the server rejects with
400 mid-run is dropped for that request kind only (its schema name and schema), once a later
mode has worked for it: other kinds keep the probed mode, and the probe result and its cache
file are left as probed.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from modelclient.base import ChatMessage
from modelclient.config import EndpointConfig, StructuredMode
from modelclient.connections import Connections, ProbeState, SchemaKey, probe_target, schema_key
from modelclient.engine import CallTally, ModelBase, Reply, Tracer
from modelclient.probe import ProbeResult, remember_probe, run_probe, save_probe
from modelclient.structured import schema_prompt
from modelclient.transport import ChatReply, RequestRejected, send_chat

logger = logging.getLogger("steward.modelclient")

_FALLBACK: dict[StructuredMode, StructuredMode | None] = {
    "json_schema": "json_object",
    "json_object": "repair",
    "repair": None,
}
_NAME_CHARS = re.compile(r"[^a-zA-Z0-9_-]")
_SEPARATOR = "\n\n"  # between the system prompt and the schema instructions


class OpenAIModel(ModelBase):
    """A ``Model`` backed by one OpenAI-compatible endpoint (one base URL, or replicas).

    Models built by the same ``ModelPool`` (or given the same ``connections``) share one HTTP
    client and one concurrency limit per base URL, one balancer over the replicas, and one
    probe per (base URL or replica set, model).
    """

    def __init__(
        self,
        endpoint: EndpointConfig,
        *,
        tracer: Tracer | None = None,
        connections: Connections | None = None,
        persist_probes: bool = True,
    ) -> None:
        super().__init__(
            endpoint.model,
            max_reasks=endpoint.max_reasks,
            record_prompts=endpoint.record_prompts,
            tracer=tracer,
            prompt_style=endpoint.prompt_style,
        )
        self.endpoint = endpoint
        self.persist_probes = persist_probes
        self._owns_connections = connections is None
        self._connections = connections or Connections()
        self._probe: ProbeState = self._connections.probe_state(endpoint)

    async def aclose(self) -> None:
        """Close the HTTP client if this model created it (a pool closes its own)."""
        if self._owns_connections:
            await self._connections.aclose()

    async def __aenter__(self) -> OpenAIModel:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def probe(self, *, force: bool = False) -> ProbeResult:
        """What the endpoint honours; probed once per (base URL or replica set, model) unless
        ``force``."""
        state = self._probe
        if state.result is not None and not force:
            return state.result
        async with self._connections.probe_lock(self.endpoint):
            if state.result is None or force:
                target = probe_target(self.endpoint)
                result = await run_probe(self._send_probe, target, self.name)
                state.result = result
                state.refused.clear()
                remember_probe(result)
                if self.persist_probes:
                    save_probe(result)
        assert state.result is not None
        return state.result

    async def _send_probe(
        self, messages: list[dict[str, str]], params: dict[str, Any]
    ) -> ChatReply:
        tally = CallTally()
        return await send_chat(self._connections, self.endpoint, messages, tally, **params)

    async def structured_mode(
        self, schema: dict[str, Any] | None = None, schema_name: str = "output"
    ) -> StructuredMode:
        """The mode the next structured call with ``schema`` and ``schema_name`` will use
        (probing first if set to ``auto``): the configured or probed mode, unless the server
        refused it for this request kind earlier. Without a schema, the endpoint's mode."""
        setting = self.endpoint.structured
        if setting == "auto":
            result = self._probe.result or await self.probe()
            mode: StructuredMode = result.mode
        else:
            mode = setting
        if schema is None:
            return mode
        return self._skip_refused(mode, schema_key(schema, schema_name))

    def _skip_refused(self, mode: StructuredMode, key: SchemaKey) -> StructuredMode:
        refused = self._probe.refused.get(key, set())
        while mode in refused:
            nxt = _FALLBACK[mode]
            if nxt is None:
                break
            mode = nxt
        return mode

    async def prompt_overhead(
        self, schema: dict[str, Any] | None, schema_name: str = "output"
    ) -> int:
        """Characters this client adds to the prompt for ``schema``: the schema instructions
        appended to the system prompt outside ``json_schema`` mode, else 0."""
        if schema is None:
            return 0
        return _overhead(schema, await self.structured_mode(schema, schema_name))

    async def _answer(
        self,
        messages: list[ChatMessage],
        schema: dict[str, Any] | None,
        schema_name: str,
        tally: CallTally,
    ) -> Reply:
        if schema is None:
            tally.mode = "text"
            return await self._request(_dicts(messages), {}, tally)
        mode = await self.structured_mode(schema, schema_name)
        refused: list[StructuredMode] = []
        while True:
            tally.mode = mode
            try:
                reply = await self._request(
                    _messages_for(messages, schema, mode),
                    _params_for(schema, schema_name, mode),
                    tally,
                )
            except RequestRejected as exc:
                nxt = _FALLBACK[mode]
                if nxt is None:
                    raise
                logger.warning(
                    "%s (%s) rejected %s output for %r (%s); trying %s",
                    self.endpoint.base_url,
                    self.name,
                    mode,
                    schema_name,
                    exc.detail,
                    nxt,
                )
                refused.append(mode)
                mode = nxt
                continue
            if refused:
                # Only once a later mode worked: a request that fails in every mode must not
                # downgrade its kind. Other kinds (and the probe result) are left alone.
                self._probe.refuse(schema_key(schema, schema_name), refused)
            return reply

    async def _request(
        self, messages: list[dict[str, str]], params: dict[str, Any], tally: CallTally
    ) -> Reply:
        reply = await send_chat(self._connections, self.endpoint, messages, tally, **params)
        tally.prompt_tokens += reply.prompt_tokens
        tally.completion_tokens += reply.completion_tokens
        return Reply(text=reply.text, truncated=reply.finish_reason == "length")


def _dicts(messages: list[ChatMessage]) -> list[dict[str, str]]:
    return [{"role": m.role, "content": m.content} for m in messages]


def _messages_for(
    messages: list[ChatMessage], schema: dict[str, Any], mode: StructuredMode
) -> list[dict[str, str]]:
    """The request messages; outside JSON Schema mode the schema goes into the system prompt."""
    out = _dicts(messages)
    if mode == "json_schema":
        return out
    instructions = schema_prompt(schema)
    if out and out[0]["role"] == "system":
        out[0] = {"role": "system", "content": out[0]["content"] + _SEPARATOR + instructions}
    else:
        out.insert(0, {"role": "system", "content": instructions})
    return out


def _overhead(schema: dict[str, Any], mode: StructuredMode) -> int:
    """Characters :func:`_messages_for` adds to a conversation that has a system prompt."""
    if mode == "json_schema":
        return 0
    return len(_SEPARATOR) + len(schema_prompt(schema))


def _params_for(schema: dict[str, Any], schema_name: str, mode: StructuredMode) -> dict[str, Any]:
    if mode == "json_schema":
        name = _NAME_CHARS.sub("_", schema_name)[:64] or "output"
        return {
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": name, "schema": schema, "strict": True},
            }
        }
    if mode == "json_object":
        return {"response_format": {"type": "json_object"}}
    return {}
