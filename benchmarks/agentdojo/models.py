"""Where an AgentDojo run gets its models: the reference replay, or a real server.

A ``CaseSource`` hands out one set of models per case (``benchmarks.bfcl.models.TaskModels``:
``model_for(role)``). Real models come from the same ``ModelPool`` source as ``bench bfcl``'s.
"""

from __future__ import annotations

from typing import Protocol

from benchmarks.agentdojo.oracle import AgentDojoOracle
from benchmarks.agentdojo.world import CaseWorld
from benchmarks.bfcl.models import ORACLE, ORACLE_BROKEN, PoolSource, TaskModels
from modelclient.base import Model

ORACLES = (ORACLE, ORACLE_BROKEN)
"""The scripted model names: the reference replay and its broken variant."""


class CaseSource(Protocol):
    """Models for every case of a run."""

    label: str
    """Model name shown in reports."""
    scripted: bool
    """A replay, not a served model."""

    def for_case(self, world: CaseWorld, *, max_calls: int) -> TaskModels: ...

    def base_urls(self) -> list[str]:
        """The servers the models are on (none for a replay)."""
        ...

    async def aclose(self) -> None: ...


class OracleSource:
    """The reference replay (``broken``: without the last call and the reference's answer)."""

    def __init__(self, *, broken: bool = False) -> None:
        self.broken = broken
        self.label = ORACLE_BROKEN if broken else ORACLE
        self.scripted = True

    def for_case(self, world: CaseWorld, *, max_calls: int) -> AgentDojoOracle:
        return AgentDojoOracle(
            world.reference,
            world.reference_output,
            world.app_of,
            first_app=next(iter(world.apps)),
            broken=self.broken,
            max_calls=max_calls,
            name=self.label,
        )

    def base_urls(self) -> list[str]:
        return []

    async def aclose(self) -> None:
        return None


class _Pooled:
    def __init__(self, source: PoolSource) -> None:
        self.source = source

    def model_for(self, role: str) -> Model:
        return self.source.pool.for_role(role)

    def begin_turn(self, index: int) -> None:
        return None


class ServedSource:
    """Real models: one ``ModelPool`` (``bench bfcl``'s ``PoolSource``) shared by every case."""

    def __init__(self, pool: PoolSource) -> None:
        self.pool = pool
        self.label = pool.label
        self.scripted = False

    def for_case(self, world: CaseWorld, *, max_calls: int) -> TaskModels:
        return _Pooled(self.pool)

    def base_urls(self) -> list[str]:
        return self.pool.base_urls()

    async def aclose(self) -> None:
        await self.pool.aclose()
