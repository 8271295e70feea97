"""The real client: any OpenAI-compatible server (the embedded vLLM, a GPU vLLM, others).

Structured output is asked for in the best mode the endpoint honours: JSON Schema, then JSON
mode with the schema in the system prompt, then plain text with the schema in the prompt and
parse-and-repair. The mode is probed once per (base URL, model); a mode the server rejects with
400 mid-run is dropped for the rest of the process.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any

from modelclient.base import ChatMessage
from modelclient.config import EndpointConfig, StructuredMode
from modelclient.engine import CallTally, ModelBase, Reply, Tracer
from modelclient.probe import ProbeResult, remember_probe, run_probe, save_probe
from modelclient.structured import schema_prompt
from modelclient.transport import Connections, ProbeState, RequestRejected, send_chat

if TYPE_CHECKING:
    from openai.types.chat import ChatCompletion

logger = logging.getLogger("steward.modelclient")

_FALLBACK: dict[StructuredMode, StructuredMode | None] = {
    "json_schema": "json_object",
    "json_object": "repair",
    "repair": None,
}
_NAME_CHARS = re.compile(r"[^a-zA-Z0-9_-]")


class OpenAIModel(ModelBase):
    """A ``Model`` backed by one OpenAI-compatible endpoint.

    Models built by the same ``ModelPool`` (or given the same ``connections``) share one HTTP
    client and one concurrency limit per base URL, and one probe per (base URL, model).
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
        """What the endpoint honours; probed once per (base URL, model) unless ``force``."""
        state = self._probe
        if state.result is not None and not force:
            return state.result
        async with state.lock:
            if state.result is None or force:
                result = await run_probe(self._send_probe, self.endpoint.base_url, self.name)
                state.result = result
                state.rejected.clear()
                remember_probe(result)
                if self.persist_probes:
                    save_probe(result)
        assert state.result is not None
        return state.result

    async def _send_probe(
        self, messages: list[dict[str, str]], params: dict[str, Any]
    ) -> ChatCompletion:
        tally = CallTally()
        return await send_chat(self._connections, self.endpoint, messages, tally, **params)

    async def structured_mode(self) -> StructuredMode:
        """The mode the next structured call will use (probing first if set to ``auto``)."""
        setting = self.endpoint.structured
        if setting == "auto":
            result = self._probe.result or await self.probe()
            mode: StructuredMode = result.mode
        else:
            mode = setting
        while mode in self._probe.rejected:
            nxt = _FALLBACK[mode]
            if nxt is None:
                break
            mode = nxt
        return mode

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
        mode = await self.structured_mode()
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
                    "%s (%s) rejected %s output (%s); trying %s",
                    self.endpoint.base_url,
                    self.name,
                    mode,
                    exc.detail,
                    nxt,
                )
                refused.append(mode)
                mode = nxt
                continue
            if refused:
                self._remember_refused(refused, mode)
            return reply

    def _remember_refused(self, refused: list[StructuredMode], working: StructuredMode) -> None:
        # Only once a later mode worked: a request that fails in every mode (say, a prompt
        # over the context length) must not downgrade the endpoint.
        self._probe.rejected.update(refused)
        result = self._probe.result
        if result is not None:
            flags: dict[str, Any] = {m: False for m in refused if m != "repair"}
            result = result.model_copy(update={**flags, "mode": working})
            self._probe.result = result
            remember_probe(result)
            if self.persist_probes:
                save_probe(result)

    async def _request(
        self, messages: list[dict[str, str]], params: dict[str, Any], tally: CallTally
    ) -> Reply:
        response = await send_chat(self._connections, self.endpoint, messages, tally, **params)
        usage = response.usage
        if usage is not None:
            tally.prompt_tokens += usage.prompt_tokens or 0
            tally.completion_tokens += usage.completion_tokens or 0
        choice = response.choices[0]
        return Reply(text=choice.message.content or "", truncated=choice.finish_reason == "length")


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
        out[0] = {"role": "system", "content": f"{out[0]['content']}\n\n{instructions}"}
    else:
        out.insert(0, {"role": "system", "content": instructions})
    return out


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
