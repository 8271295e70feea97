"""The baselines: bare LangGraph graphs and a plain ``asyncio.gather``, same client, same stub.

They make the same model calls as the steward (same count, same order and fan-out, the same
``openai.AsyncOpenAI`` client, JSON Schema output) and do nothing else: no validation, no
records, no checkpoints. What they spend outside the model is the floor the steward is
compared with.
"""

from __future__ import annotations

import asyncio
import operator
from typing import Annotated, Any, TypedDict

import openai
from langgraph.graph import END, START, StateGraph
from langgraph.types import Send

from agents.records import VERDICT_SCHEMA

_SYSTEM = (
    "You check the work of an app agent. Decide whether the subtask was really done. Reply "
    "with JSON: success, failure_kind, tips, key_info. " * 4
)
_USER = "Subtask: Touch the counter (step 1)\nActions:\n1. touch({}) -> <data>{}</data>"


def request(model: str) -> dict[str, Any]:
    """One chat request of the size and kind the steward sends (a verdict, JSON Schema mode)."""
    return {
        "model": model,
        "messages": [{"role": "system", "content": _SYSTEM}, {"role": "user", "content": _USER}],
        "temperature": 0.0,
        "top_p": 1.0,
        "max_tokens": 384,
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "evaluate", "schema": VERDICT_SCHEMA, "strict": True},
        },
    }


async def call(client: openai.AsyncOpenAI, model: str, body: dict[str, Any] | None = None) -> str:
    """One model call (``body``: a recorded request to send again); returns the answer text."""
    params = {**(body or request(model)), "model": model}
    response = await client.chat.completions.create(**params)
    return response.choices[0].message.content or ""


class _Loop(TypedDict):
    done: int


async def loop(
    client: openai.AsyncOpenAI,
    model: str,
    calls: int,
    bodies: list[dict[str, Any]] | None = None,
) -> None:
    """A one-node LangGraph loop that makes ``calls`` model calls, one per step: the recorded
    requests ``bodies`` in order if given (the steward's own, byte for byte), else
    ``request``.

    Nodes and edges are async functions, LangGraph's fastest path (a sync one runs in a
    thread), as in the steward's graph.
    """

    async def step(state: _Loop) -> dict[str, Any]:
        done = state["done"]
        await call(client, model, bodies[done % len(bodies)] if bodies else None)
        return {"done": done + 1}

    async def again(state: _Loop) -> str:
        return "call" if state["done"] < calls else END

    g = StateGraph(_Loop)
    g.add_node("call", step)
    g.add_edge(START, "call")
    g.add_conditional_edges("call", again)
    await g.compile().ainvoke({"done": 0}, {"recursion_limit": calls + 10})


class _Dag(TypedDict, total=False):
    done: Annotated[list[int], operator.add]
    i: int


async def dag(
    client: openai.AsyncOpenAI,
    model: str,
    shape: str,
    n: int,
    calls_per_subtask: int = 3,
    slow_model: str | None = None,
) -> None:
    """plan -> ``n`` subtasks (a fan-out with ``Send``, a chain, or ``uneven``: subtasks 0 -> 1
    beside 2) -> answer, in LangGraph's super-steps.

    Each subtask makes ``calls_per_subtask`` calls in a row, like a staff agent's action, its
    finish and the steward's verdict; in ``uneven``, subtask 2 makes all but the last of them
    with ``slow_model``, as the steward's long branch does.
    """

    async def plan(state: _Dag) -> dict[str, Any]:
        await call(client, model)
        return {}

    async def work(state: _Dag) -> dict[str, Any]:
        slow = shape == "uneven" and state["i"] == 2 and slow_model is not None
        for j in range(calls_per_subtask):
            last = j == calls_per_subtask - 1
            await call(client, slow_model if slow and not last else model)  # type: ignore[arg-type]
        return {"done": [state["i"]]}

    async def answer(state: _Dag) -> dict[str, Any]:
        await call(client, model)
        return {}

    async def join(state: _Dag) -> dict[str, Any]:
        return {}

    async def route(state: _Dag) -> Any:
        done = state["done"]
        if shape == "uneven":  # 0 and 2 at once; 1 once 0 is done, in the next super-step
            if not done:
                return [Send("work", {"i": 0}), Send("work", {"i": 2})]
            return Send("work", {"i": 1}) if 1 not in done else "answer"
        if shape == "fanout":
            return [Send("work", {"i": i}) for i in range(n)] if not done else "answer"
        return Send("work", {"i": len(state["done"])}) if len(state["done"]) < n else "answer"

    g = StateGraph(_Dag)
    g.add_node("plan", plan)
    g.add_node("work", work)
    g.add_node("join", join)
    g.add_node("answer", answer)
    g.add_edge(START, "plan")
    g.add_edge("plan", "join")
    g.add_edge("work", "join")
    g.add_conditional_edges("join", route, ["work", "answer"])
    g.add_edge("answer", END)
    await g.compile().ainvoke({"done": []}, {"recursion_limit": 4 * n + 10})


async def gather(client: openai.AsyncOpenAI, model: str, n: int) -> None:
    """``n`` model calls at once with ``asyncio.gather``."""
    await asyncio.gather(*(call(client, model) for _ in range(n)))
