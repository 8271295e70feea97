"""One chat completion: sent to the best replica, retried (on another replica when there is one)
with backoff, and its HTTP errors mapped to Steward's."""

from __future__ import annotations

import asyncio
import logging
import random
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from core.errors import (
    ConfigError,
    ModelOutputError,
    ServerError,
    ServerUnreachableError,
    UserError,
)
from modelclient.config import EndpointConfig
from modelclient.connections import Connections, ProbeState, SchemaKey, schema_key
from modelclient.engine import CallTally

if TYPE_CHECKING:  # openai is imported lazily: it takes half a second
    import openai


logger = logging.getLogger("steward.modelclient")

__all__ = [
    "ChatReply",
    "Connections",
    "ProbeState",
    "PromptTooLongError",
    "ReplicasUnreachableError",
    "RequestRejected",
    "SchemaKey",
    "schema_key",
    "send_chat",
]

_MAX_DELAY_S = 30.0


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


class ReplicasUnreachableError(ServerUnreachableError):
    """No replica of an endpoint could be reached (the last try could not connect)."""

    def __init__(self, endpoint: EndpointConfig, detail: str) -> None:
        self.url = ", ".join(endpoint.base_urls)
        self.detail = detail
        self.hint = "start them, or remove the dead ones from base_urls in the model config"
        count = len(endpoint.base_urls)
        UserError.__init__(
            self,
            f"all {count} replicas of model {endpoint.model!r} ({self.url}) are unreachable "
            f"({detail}); {self.hint}",
        )


def _status_error(endpoint: EndpointConfig, url: str, exc: openai.APIStatusError) -> Exception:
    detail = _detail(exc)
    status = exc.status_code
    if status in (400, 413, 422) and _CONTEXT_LENGTH.search(f"{detail} {_code(exc)}"):
        return PromptTooLongError(
            f"{url}: the prompt does not fit model {endpoint.model!r}'s context "
            f"window ({status}: {detail}); lower prompt_chars in the agent settings or serve "
            "the model with a longer context (vLLM --max-model-len)"
        )
    if status in (400, 422):
        return RequestRejected(status, detail)
    if status in (401, 403):
        return ConfigError(
            f"{url} refused the API key ({status}: {detail}); "
            "set api_key in [model] or $STEWARD_API_KEY"
        )
    if status == 404:
        return ConfigError(
            f"{url} has no model {endpoint.model!r} ({detail}); check `model` "
            "in the config (the served model name) or $STEWARD_MODEL"
        )
    return ModelOutputError(f"{url} answered {status}: {detail}")


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

    Each try goes to the replica (``endpoint.base_urls``) the pool's balancer picks: the one
    with the fewest requests in flight, among those not put aside; each replica keeps its own
    concurrency limit. Connection errors, timeouts, 429, 5xx and answers without choices put
    the replica aside (``cooldown_s``) and are retried, at once on another replica if one is
    available, else after exponential backoff with jitter, ``max_retries`` times in all. Then
    raises ``ServerUnreachableError`` (the last try could not connect) or ``ServerError`` (it
    timed out, or was answered 5xx, 429 or without choices), naming every replica's last
    failure. 4xx other than 429 are raised at once (``PromptTooLongError`` when the prompt
    exceeds the context window, else ``RequestRejected`` for 400/422, ``ConfigError`` for
    401/403/404, ``ModelOutputError`` for others).
    """
    import openai

    balancer = connections.balancer
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
    failed: dict[str, str] = {}  # replica -> its last failure
    unreachable = False
    status: int | None = None
    waits = 0
    url, _ = balancer.pick(endpoint.base_urls)
    for attempt in range(tries):
        extra_wait = 0.0
        tally.attempts += 1
        balancer.start(url)
        started = time.perf_counter()
        try:
            async with connections.semaphore(endpoint, url):
                started = time.perf_counter()  # the replica's latency, not the wait for it
                response: Any = await connections.client(endpoint, url).post(
                    "/chat/completions",
                    body=request,
                    cast_to=_raw_response_type(),
                    options={"timeout": endpoint.timeout_s},
                )
            try:
                reply = _reply(response.json())
            except ValueError:
                raise ModelOutputError(
                    f"{url}: the answer is not JSON: {response.text[:200]!r}"
                ) from None
            if reply is not None:
                balancer.succeed(url, time.perf_counter() - started)
                return reply
            unreachable, status, detail = False, None, "the server returned no choices"
        except openai.APITimeoutError:
            unreachable, status, detail = False, None, f"timed out after {endpoint.timeout_s:g}s"
        except openai.APIConnectionError as exc:
            cause = exc.__cause__
            unreachable, status, detail = True, None, str(cause or exc) or "connection failed"
        except openai.APIStatusError as exc:
            if exc.status_code != 429 and exc.status_code < 500:
                balancer.end(url)
                raise _status_error(endpoint, url, exc) from None
            status = exc.status_code
            unreachable, detail = False, f"HTTP {status}: {_detail(exc)}"
            if exc.status_code == 429:
                extra_wait = _retry_after(exc)
        except openai.APIError as exc:
            balancer.end(url)
            raise ModelOutputError(f"{url}: bad response: {_detail(exc)}") from None
        except BaseException:  # not JSON, cancelled, or a bug: says nothing of the replica
            balancer.end(url)
            raise
        balancer.fail(url, detail, endpoint.cooldown_s, at_least_s=extra_wait)
        failed[url] = detail
        if attempt + 1 == tries:
            break
        previous = url
        url, ready = balancer.pick(endpoint.base_urls)
        if ready:  # another replica, not put aside: no reason to wait
            logger.info("%s: %s; retry %d/%d on %s", previous, detail, attempt + 1, tries - 1, url)
            continue
        delay = endpoint.backoff_s * (2**waits) * random.uniform(0.5, 1.5)
        delay = max(min(delay, _MAX_DELAY_S), extra_wait)
        waits += 1
        logger.info("%s: %s; retry %d/%d in %.2fs", url, detail, attempt + 1, tries - 1, delay)
        await asyncio.sleep(delay)
        url, _ = balancer.pick(endpoint.base_urls)
    raise _failure(endpoint, failed, tries, unreachable=unreachable, status=status)


def _failure(
    endpoint: EndpointConfig,
    failed: dict[str, str],
    tries: int,
    *,
    unreachable: bool,
    status: int | None,
) -> Exception:
    """The error once the retries are spent: every replica tried, with its last failure."""
    times = f"{tries} {'try' if tries == 1 else 'tries'}"
    if len(endpoint.base_urls) == 1:
        ((url, detail),) = failed.items()
        where = f"the model server at {url}"
    else:
        url = ", ".join(endpoint.base_urls)
        detail = "; ".join(f"{u}: {d}" for u, d in failed.items())
        untried = len(endpoint.base_urls) - len(failed)
        if untried:
            detail += f"; {untried} replica(s) not tried, put aside after failing earlier"
        where = f"all {len(endpoint.base_urls)} replicas of model {endpoint.model!r} ({url})"
        if unreachable:
            return ReplicasUnreachableError(endpoint, f"after {times}: {detail}")
    if unreachable:
        return ServerUnreachableError(url, detail)
    hint = (
        "the server limits requests: lower max_concurrency in the model config, or try later"
        if status == 429
        else "check the server's log"
    )
    return ServerError(
        f"{where} kept failing after {times} ({detail}; model {endpoint.model!r}); {hint}",
        url=url,
        status=status,
        tries=tries,
    )
