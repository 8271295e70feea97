"""Shared HTTP clients, per-endpoint concurrency limits and bounded retries with backoff."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import random
import re
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from core.errors import ConfigError, ModelOutputError, ServerError, ServerUnreachableError
from modelclient.config import EndpointConfig, StructuredMode
from modelclient.engine import CallTally
from modelclient.probe import ProbeResult, known_probe

if TYPE_CHECKING:  # openai is imported lazily: it takes half a second
    import openai


logger = logging.getLogger("steward.modelclient")

_MAX_DELAY_S = 30.0
_MAX_KINDS = 1024  # request kinds whose refused modes are remembered per endpoint

SchemaKey = tuple[str, str]
"""One request kind: (schema name, hash of the schema)."""


class RequestRejected(ModelOutputError):
    """The server refused the request itself (HTTP 400 or 422); not retried."""

    def __init__(self, status: int, detail: str) -> None:
        self.status = status
        self.detail = detail
        super().__init__(f"server rejected the request ({status}): {detail}")


class PromptTooLongError(ModelOutputError):
    """The prompt does not fit the model's context window (HTTP 400). Not retried, and not a
    structured-output problem: no other output mode is tried, none is marked as refused."""


_CONTEXT_LENGTH = re.compile(
    r"maximum context length|context[ _]length|max_model_len|maximum model length"
    r"|prompt is too long|too many tokens|longer than the maximum",
    re.IGNORECASE,
)


def schema_key(schema: dict[str, Any], schema_name: str) -> SchemaKey:
    """The request kind of a structured call: its schema name and a hash of its schema."""
    dumped = json.dumps(schema, sort_keys=True, separators=(",", ":"), default=str)
    return schema_name, hashlib.sha256(dumped.encode()).hexdigest()[:16]


@dataclass
class ProbeState:
    """In-process knowledge about one (base URL, model): its probe, and per request kind the
    structured-output modes the server refused (HTTP 400) for it while a later mode worked.

    A refusal never changes the probe result: another schema may well be accepted in the
    probed mode.
    """

    result: ProbeResult | None = None
    refused: dict[SchemaKey, set[StructuredMode]] = field(default_factory=dict)

    def refuse(self, key: SchemaKey, modes: list[StructuredMode]) -> None:
        """Remember that ``modes`` were refused for the request kind ``key``."""
        if key not in self.refused and len(self.refused) >= _MAX_KINDS:
            del self.refused[next(iter(self.refused))]  # the oldest kind
        self.refused.setdefault(key, set()).update(modes)


@dataclass
class _LoopConnections:
    """What belongs to one event loop: HTTP clients, semaphores and probe locks."""

    clients: dict[tuple[str, str], openai.AsyncOpenAI] = field(default_factory=dict)
    semaphores: dict[str, asyncio.Semaphore] = field(default_factory=dict)
    probe_locks: dict[tuple[str, str], asyncio.Lock] = field(default_factory=dict)


class Connections:
    """One ``AsyncOpenAI`` client per (base URL, key), one semaphore per base URL, probe states.

    HTTP clients, semaphores and locks belong to the event loop they are used in, so they are
    kept per loop: the same pool (and the orchestrator holding it) works again under another
    ``asyncio.run``. Probe results are shared by all loops. Close it with ``aclose``.
    """

    def __init__(self) -> None:
        self._loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopConnections]
        self._loops = weakref.WeakKeyDictionary()
        self._probes: dict[tuple[str, str], ProbeState] = {}

    def _here(self) -> _LoopConnections:
        return self._loops.setdefault(asyncio.get_running_loop(), _LoopConnections())

    @property
    def _clients(self) -> dict[tuple[str, str], openai.AsyncOpenAI]:
        """The running loop's clients."""
        return self._here().clients

    def client(self, endpoint: EndpointConfig) -> openai.AsyncOpenAI:
        """The shared client for the endpoint's URL and key (created on first use)."""
        clients = self._here().clients
        key = (endpoint.base_url, endpoint.api_key)
        client = clients.get(key)
        if client is None:
            import openai

            client = openai.AsyncOpenAI(
                base_url=endpoint.base_url, api_key=endpoint.api_key, max_retries=0
            )
            clients[key] = client
        return client

    def semaphore(self, endpoint: EndpointConfig) -> asyncio.Semaphore:
        """The concurrency limit shared by every model on the endpoint's base URL."""
        semaphores = self._here().semaphores
        sem = semaphores.get(endpoint.base_url)
        if sem is None:
            sem = semaphores[endpoint.base_url] = asyncio.Semaphore(endpoint.max_concurrency)
        return sem

    def probe_lock(self, endpoint: EndpointConfig) -> asyncio.Lock:
        """The lock that lets one request at a time probe the endpoint's (base URL, model)."""
        locks = self._here().probe_locks
        key = (endpoint.base_url, endpoint.model)
        lock = locks.get(key)
        if lock is None:
            lock = locks[key] = asyncio.Lock()
        return lock

    def probe_state(self, endpoint: EndpointConfig) -> ProbeState:
        """Probe knowledge for the endpoint's (base URL, model)."""
        key = (endpoint.base_url, endpoint.model)
        state = self._probes.get(key)
        if state is None:
            state = self._probes[key] = ProbeState(result=known_probe(*key))
        return state

    async def aclose(self) -> None:
        """Close the running loop's clients; those of loops that have ended go with them."""
        here = self._loops.pop(asyncio.get_running_loop(), None)
        for loop in [loop for loop in self._loops if loop.is_closed()]:
            del self._loops[loop]
        for client in (here.clients if here else {}).values():
            await client.close()


def _status_error(endpoint: EndpointConfig, exc: openai.APIStatusError) -> Exception:
    detail = _detail(exc)
    status = exc.status_code
    if status in (400, 413, 422) and _CONTEXT_LENGTH.search(f"{detail} {_code(exc)}"):
        return PromptTooLongError(
            f"{endpoint.base_url}: the prompt does not fit model {endpoint.model!r}'s context "
            f"window ({status}: {detail}); lower prompt_chars in the agent settings or serve "
            "the model with a longer context (vLLM --max-model-len)"
        )
    if status in (400, 422):
        return RequestRejected(status, detail)
    if status in (401, 403):
        return ConfigError(
            f"{endpoint.base_url} refused the API key ({status}: {detail}); "
            "set api_key in [model] or $STEWARD_API_KEY"
        )
    if status == 404:
        return ConfigError(
            f"{endpoint.base_url} has no model {endpoint.model!r} ({detail}); check `model` "
            "in the config (the served model name) or $STEWARD_MODEL"
        )
    return ModelOutputError(f"{endpoint.base_url} answered {status}: {detail}")


def _detail(exc: openai.APIError) -> str:
    body = exc.body
    if isinstance(body, Mapping):
        inner = body.get("error", body)
        if isinstance(inner, Mapping) and inner.get("message"):
            return str(inner["message"])[:300]
    return (exc.message or type(exc).__name__)[:300]


def _code(exc: openai.APIError) -> str:
    body = exc.body
    inner = body.get("error", body) if isinstance(body, Mapping) else None
    return str(inner.get("code") or "") if isinstance(inner, Mapping) else ""


def _retry_after(exc: openai.APIStatusError) -> float:
    value = exc.response.headers.get("retry-after", "")
    try:
        return min(max(float(value), 0.0), _MAX_DELAY_S)
    except ValueError:
        return 0.0


@dataclass(frozen=True)
class ChatReply:
    """What Steward reads of a chat completion (the first choice)."""

    text: str
    finish_reason: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    tool_arguments: str | None = None
    """The arguments of the first tool call, if the answer made one (the probe asks for it)."""


def _reply(body: Any) -> ChatReply | None:
    """The reply in a chat completion's JSON body; ``None`` when it has no choices."""
    choices = body.get("choices") if isinstance(body, dict) else None
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        return None
    choice = choices[0]
    message = choice.get("message") or {}
    usage = body.get("usage") or {}
    calls = message.get("tool_calls") or []
    function = calls[0].get("function") if calls and isinstance(calls[0], dict) else None
    return ChatReply(
        text=str(message.get("content") or ""),
        finish_reason=choice.get("finish_reason"),
        prompt_tokens=int(usage.get("prompt_tokens") or 0),
        completion_tokens=int(usage.get("completion_tokens") or 0),
        tool_arguments=function.get("arguments") if isinstance(function, dict) else None,
    )


def _raw_response_type() -> type:
    """The HTTP response class of the installed openai client (httpx2 in newer releases)."""
    from openai import _base_client

    module = getattr(_base_client, "httpx2", None) or getattr(_base_client, "httpx")  # noqa: B009
    return module.Response  # type: ignore[no-any-return]


async def send_chat(
    connections: Connections,
    endpoint: EndpointConfig,
    messages: list[dict[str, str]],
    tally: CallTally,
    **params: Any,
) -> ChatReply:
    """One chat completion with bounded retries; counts every request in ``tally.attempts``.

    The request goes through the openai client's HTTP layer (connections, errors, auth) as a
    plain JSON body, and the answer is read from its JSON: the client's typed request and
    response models cost more CPU per call than the rest of a step (the perf bench shows it).

    Retries connection errors, timeouts, 429, 5xx and answers without choices, with
    exponential backoff and jitter. Then raises ``ServerUnreachableError`` (the last try could
    not connect) or ``ServerError`` (the last try timed out, or was answered 5xx, 429 or
    without choices). 4xx other than 429 are raised at once (``PromptTooLongError`` when the
    prompt exceeds the context window, else ``RequestRejected`` for 400/422, ``ConfigError``
    for 401/403/404, ``ModelOutputError`` for others).
    """
    import openai

    client = connections.client(endpoint)
    semaphore = connections.semaphore(endpoint)
    request: dict[str, Any] = {
        "model": endpoint.model,
        "messages": messages,
        "temperature": endpoint.temperature,
        "top_p": endpoint.top_p,
        "max_tokens": endpoint.max_tokens,
    }
    if endpoint.seed is not None:
        request["seed"] = endpoint.seed
    if endpoint.frequency_penalty is not None:
        request["frequency_penalty"] = endpoint.frequency_penalty
    request.update(params)
    tries = endpoint.max_retries + 1
    unreachable = False
    detail = ""
    status: int | None = None
    for attempt in range(tries):
        extra_wait = 0.0
        tally.attempts += 1
        try:
            async with semaphore:
                response: Any = await client.post(
                    "/chat/completions",
                    body=request,
                    cast_to=_raw_response_type(),
                    options={"timeout": endpoint.timeout_s},
                )
            try:
                reply = _reply(response.json())
            except ValueError:
                raise ModelOutputError(
                    f"{endpoint.base_url}: the answer is not JSON: {response.text[:200]!r}"
                ) from None
            if reply is not None:
                return reply
            unreachable, status, detail = False, None, "the server returned no choices"
        except openai.APITimeoutError:
            unreachable, status, detail = False, None, f"timed out after {endpoint.timeout_s:g}s"
        except openai.APIConnectionError as exc:
            cause = exc.__cause__
            unreachable, status, detail = True, None, str(cause or exc) or "connection failed"
        except openai.APIStatusError as exc:
            if exc.status_code != 429 and exc.status_code < 500:
                raise _status_error(endpoint, exc) from None
            status = exc.status_code
            unreachable, detail = False, f"HTTP {status}: {_detail(exc)}"
            if exc.status_code == 429:
                extra_wait = _retry_after(exc)
        except openai.APIError as exc:
            raise ModelOutputError(f"{endpoint.base_url}: bad response: {_detail(exc)}") from None
        if attempt + 1 < tries:
            delay = endpoint.backoff_s * (2**attempt) * random.uniform(0.5, 1.5)
            delay = max(min(delay, _MAX_DELAY_S), extra_wait)
            logger.info(
                "%s: %s; retry %d/%d in %.2fs",
                endpoint.base_url,
                detail,
                attempt + 1,
                tries - 1,
                delay,
            )
            await asyncio.sleep(delay)
    if unreachable:
        raise ServerUnreachableError(endpoint.base_url, detail)
    hint = (
        "the server limits requests: lower max_concurrency in the model config, or try later"
        if status == 429
        else "check the server's log"
    )
    raise ServerError(
        f"the model server at {endpoint.base_url} kept failing after {tries} "
        f"{'try' if tries == 1 else 'tries'} ({detail}; model {endpoint.model!r}); {hint}",
        url=endpoint.base_url,
        status=status,
        tries=tries,
    )
