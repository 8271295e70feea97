"""The real client against the real local vLLM server (``pytest --run-vllm``).

Asserts only what a weak model cannot break: schema-valid output, known tokens, recorded
usage, the probed mode. ``STEWARD_VLLM_URL`` / ``STEWARD_VLLM_MODEL`` pick the server (default:
the embedded one).
"""

from __future__ import annotations

import asyncio
import os

import pytest

from modelclient import ChatMessage, EndpointConfig, ModelPool, ModelsConfig

pytestmark = pytest.mark.vllm

TOKENS = ["<app:messaging>", "<app:twitter>", "<app:travel>"]
SCHEMA = {
    "type": "object",
    "properties": {
        "task_token": {"type": "string", "enum": TOKENS},
        "instruction": {"type": "string", "maxLength": 120},
    },
    "required": ["task_token", "instruction"],
    "additionalProperties": False,
}
MESSAGES = [
    ChatMessage(role="system", content="Pick the app for the task and restate the task."),
    ChatMessage(role="user", content="Send 'hi' to Alice."),
]


def config() -> ModelsConfig:
    default = EndpointConfig()
    endpoint = EndpointConfig(
        base_url=os.environ.get("STEWARD_VLLM_URL") or default.base_url,
        model=os.environ.get("STEWARD_VLLM_MODEL") or default.model,
        # the schema bounds the answer (an enum and 120 characters) well within 160 tokens;
        # the penalty keeps the small model from looping inside the string, as the embedded
        # server's settings do
        max_tokens=160,
        frequency_penalty=0.3,
    )
    return ModelsConfig(default=endpoint)


async def test_probe_and_structured_calls_on_vllm() -> None:
    async with ModelPool(config(), persist_probes=False) as pool:
        model = pool.for_role("steward")
        probe = await model.probe()
        assert probe.json_schema and probe.mode == "json_schema"
        outs = await asyncio.gather(
            *(model.complete(MESSAGES, schema=SCHEMA, role="steward") for _ in range(4))
        )
    for out in outs:
        assert out.data["task_token"] in TOKENS
        assert out.record.mode == "json_schema"
        assert out.record.usage.prompt_tokens > 0 and out.record.usage.completion_tokens > 0


async def test_text_call_on_vllm() -> None:
    async with ModelPool(config(), persist_probes=False) as pool:
        out = await pool.for_role("steward").complete(MESSAGES)
    assert out.text and out.record.usage.completion_tokens > 0 and out.record.mode == "text"
