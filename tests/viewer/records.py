"""Run records made in code for the viewer tests: a large run, and one with re-plans."""

from __future__ import annotations

from typing import Any

from agents.plan import SchedulingGraph, Subtask
from agents.records import Action, AppStates, Attempt, RunRecord, Step, SubtaskRecord, Verdict
from core.usage import CallRecord, Usage

T0 = 1_800_000_000.0


SYSTEM = "You operate the notes app. Each turn, call ONE tool and reply with JSON. " * 20


def call(
    start: float,
    purpose: str = "act",
    role: str = "<app:notes>",
    prompt: list[dict[str, str]] | None = None,
    **extra: Any,
) -> CallRecord:
    usage = Usage(prompt_tokens=900, completion_tokens=40, calls=1, latency_s=0.4)
    prompt = prompt or [{"role": "system", "content": SYSTEM}]
    return CallRecord(role=role, purpose=purpose, model="m", usage=usage, started_at=start,
                      prompt=prompt, output='{"tool": "add"}', **extra)  # fmt: skip


def attempt(number: int, start: float, steps: int, success: bool, sid: str) -> Attempt:
    """An attempt whose prompts grow as a real staff agent's do: the system prompt, the
    subtask, then every earlier action and observation."""
    calls, taken = [], []
    t = start
    conversation = [{"role": "system", "content": SYSTEM},
                    {"role": "user", "content": f"Subtask {sid} attempt {number}: add notes"}]  # fmt: skip
    for i in range(steps):
        calls.append(call(t, prompt=list(conversation)))
        action = Action(thought="think " * 20, tool="add", arguments={"text": f"note {i}"})
        observation = {"note_id": f"N{i}", "text": f"{sid}.{number}.{i} " + "y" * 600}
        taken.append(Step(action=action, observation=observation,
                          action_id=f"{sid}.{number}.{i + 1}", latency_s=0.05))  # fmt: skip
        conversation += [{"role": "assistant", "content": action.model_dump_json()},
                         {"role": "user", "content": f"Observation: {observation}"}]  # fmt: skip
        t += 0.5
    verdict = Verdict(success=success, failure_kind="none" if success else "wrong_result",
                      tips="" if success else "try the other id", key_info=f"{sid} done",
                      call=call(t, "evaluate", "steward"))  # fmt: skip
    return Attempt(number=number, steps=taken, calls=calls, started_at=start, ended_at=t + 0.4,
                   verdict=verdict, tips="" if number == 1 else "try the other id",
                   result="done", status="finished")  # fmt: skip


def big_record(subtasks: int = 128, attempts: int = 3, steps: int = 10) -> RunRecord:
    """``subtasks`` subtasks in layers of 16 (each needs one of the layer before), each with
    ``attempts`` attempts of ``steps`` steps: a long, wide run."""
    nodes, records = [], []
    for i in range(subtasks):
        sid = f"s{i}"
        needs = [f"s{i - 16}"] if i >= 16 else []
        nodes.append(Subtask(id=sid, task_token="<app:notes>", instruction=f"Add note {i}",
                             needs=needs))  # fmt: skip
        start = T0 + (i // 16) * attempts * (steps * 0.5 + 0.5)
        history = []
        for n in range(1, attempts + 1):
            history.append(attempt(n, start, steps, n == attempts, sid))
            start = history[-1].ended_at
        records.append(SubtaskRecord(id=sid, task_token="<app:notes>", instruction=f"Add note {i}",
                                     needs=needs, status="succeeded", attempts=attempts,
                                     key_info=f"{sid} done", history=history,
                                     started_at=history[0].started_at, ended_at=start))  # fmt: skip
    graph = SchedulingGraph(nodes=nodes)
    notes = {"notes": {f"N{i}": f"note {i}" for i in range(400)}}
    return RunRecord(run_id="big0000000001", instruction="Add many notes", status="succeeded",
                     graph=graph, plans=[graph], subtasks=records, started_at=T0 - 1,
                     ended_at=max(r.ended_at for r in records),
                     steward_calls=[call(T0 - 1, "plan", "steward")],
                     apps={"notes": AppStates(before={"notes": {}}, after=notes)})  # fmt: skip


def replanned_record() -> RunRecord:
    """A run whose first plan failed at ``b`` and was re-planned once, by the apps fallback."""
    first = SchedulingGraph(nodes=[
        Subtask(id="a", task_token="<app:notes>", instruction="Add a note", needs=[]),
        Subtask(id="b", task_token="<app:mail>", instruction="Mail it", needs=["a"]),
        Subtask(id="c", task_token="<app:mail>", instruction="Mail again", needs=["b"]),
    ])  # fmt: skip
    second = SchedulingGraph(nodes=[
        first.nodes[0],
        Subtask(id="b_r1", task_token="<app:mail>", instruction="Mail the note", needs=["a"]),
    ])  # fmt: skip

    def sub(sid: str, token: str, status: str, start: float, ok: bool) -> SubtaskRecord:
        history = [attempt(1, start, 2, ok, sid)]
        return SubtaskRecord(id=sid, task_token=token, instruction=sid, status=status,  # type: ignore[arg-type]
                             attempts=1, key_info="N1" if ok else "", history=history,
                             started_at=start, ended_at=history[-1].ended_at)  # fmt: skip

    subtasks = [sub("a", "<app:notes>", "succeeded", T0, True),
                sub("b", "<app:mail>", "failed", T0 + 2, False),
                SubtaskRecord(id="c", task_token="<app:mail>", instruction="Mail again",
                              needs=["b"], status="skipped"),
                sub("b_r1", "<app:mail>", "succeeded", T0 + 5, True)]  # fmt: skip
    return RunRecord(run_id="replan000001", instruction="Note and mail", status="succeeded",
                     graph=second, plans=[first, second], subtasks=subtasks, replans=1,
                     fallbacks=["apps"], started_at=T0, ended_at=T0 + 8)  # fmt: skip
