"""Where a benchmark run gets its models: the oracle, or a real OpenAI-compatible server.

A ``ModelSource`` hands out one ``TaskModels`` per task; the harness tells it when a turn
begins (the oracle needs that, real models ignore it).
"""

from __future__ import annotations

from typing import Protocol

from agents.steward import ModelFor
from benchmarks.bfcl.data import BfclTask
from benchmarks.bfcl.oracle import OracleModels
from modelclient.base import Model
from modelclient.config import ModelsConfig

ORACLE = "oracle"
ORACLE_BROKEN = "oracle-broken"
TEACHER = "teacher"
"""The ground truth played as a good steward would (``benchmarks.bfcl.teacher``)."""


class TaskModels(Protocol):
    """The models of one task, by role (``steward`` or a task token)."""

    def model_for(self, role: str) -> Model: ...

    def begin_turn(self, index: int) -> None: ...


class ModelSource(Protocol):
    """Models for every task of a benchmark run."""

    label: str
    """Model name shown in reports."""
    scripted: bool
    """A scripted or replay model (not a served one): what it teaches memory is marked so
    (``Provenance.source == "scripted"``) and offered to models only when asked."""

    def for_task(self, task: BfclTask, *, compound: bool, max_calls: int) -> TaskModels: ...

    def summarizer(self) -> ModelFor | None:
        """Models that summarise a verified run into memory (``None``: a plain summary)."""
        ...

    def base_urls(self) -> list[str]:
        """The servers the models are on (none for a scripted model)."""
        ...

    async def aclose(self) -> None: ...


class OracleSource:
    """Ground-truth replay (``broken`` drops the last call of every turn; ``teacher`` plays it
    as a good steward would, with compact prompts: see ``benchmarks.bfcl.teacher``)."""

    def __init__(
        self, *, broken: bool = False, teacher: bool = False, reject_share: float | None = None
    ) -> None:
        self.broken = broken
        self.teacher = teacher
        self.reject_share = reject_share
        """The teacher's share of subtasks attempted short, then rejected (``None``: its
        default, see ``benchmarks.bfcl.teacher_reject``)."""
        self.label = TEACHER if teacher else ORACLE_BROKEN if broken else ORACLE
        self.scripted = True

    def for_task(self, task: BfclTask, *, compound: bool, max_calls: int) -> OracleModels:
        if self.teacher:
            from benchmarks.bfcl.teacher import TeacherModels
            from benchmarks.bfcl.teacher_reject import REJECT_SHARE

            share = REJECT_SHARE if self.reject_share is None else self.reject_share
            return TeacherModels(task, max_calls=max_calls, reject_share=share)
        return OracleModels(
            task, compound=compound, broken=self.broken, max_calls=max_calls, name=self.label
        )

    def summarizer(self) -> ModelFor | None:
        return None

    def base_urls(self) -> list[str]:
        return []

    async def aclose(self) -> None:
        return None


class _PooledTask:
    def __init__(self, source: PoolSource) -> None:
        self.source = source

    def model_for(self, role: str) -> Model:
        return self.source.pool.for_role(role)

    def begin_turn(self, index: int) -> None:
        return None


class PoolSource:
    """Real models from one ``ModelPool`` shared by every task (one HTTP client per URL, so
    concurrent tasks are batched by the server)."""

    def __init__(self, config: ModelsConfig) -> None:
        from modelclient.pool import ModelPool

        self.config = config
        self.pool = ModelPool(config)
        self.label = config.default.model
        self.scripted = False

    def for_task(self, task: BfclTask, *, compound: bool, max_calls: int) -> TaskModels:
        return _PooledTask(self)

    def summarizer(self) -> ModelFor | None:
        return self.pool.for_role

    def base_urls(self) -> list[str]:
        roles = [self.config.resolve(role).base_url for role in self.config.roles]
        return list(dict.fromkeys([self.config.default.base_url, *roles]))

    async def aclose(self) -> None:
        await self.pool.aclose()


def model_source(name: str | None, config: ModelsConfig | None) -> ModelSource:
    """The oracle for ``oracle`` / ``oracle-broken``, else a pool over ``config``."""
    if name == ORACLE:
        return OracleSource()
    if name == ORACLE_BROKEN:
        return OracleSource(broken=True)
    if name == TEACHER:
        return OracleSource(teacher=True)
    return PoolSource(config or ModelsConfig())
