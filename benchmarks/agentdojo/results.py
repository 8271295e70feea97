"""What an AgentDojo run is configured with and what it produces (pydantic, boundary data)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from agents.settings import AgentSettings
from apps.agentdojo_catalog import AGENTDOJO_VERSION, SUITES
from benchmarks.agentdojo.cases import ATTACK_TARGET
from benchmarks.bfcl.purposes import CallCounts, CallMeans
from benchmarks.bfcl.results import ServerReport, Totals

AgentName = Literal["steward", "single", "no-eval", "sequential"]
AGENTS: tuple[str, ...] = ("steward", "single", "no-eval", "sequential")
BENIGN = "benign"
"""The attack column of a run without an attack."""


class AgentDojoConfig(BaseModel):
    """One ``steward bench agentdojo`` invocation."""

    model_config = ConfigDict(extra="forbid")

    suites: list[str] = Field(default_factory=lambda: list(SUITES))
    """Suites to run."""
    attack: str | None = None
    """AgentDojo attack: each user task also runs with each injection task under it."""
    agent: AgentName = "steward"
    """``steward`` (full), ``single`` (one agent with every tool of the suite), or an
    ablation: ``no-eval``, ``sequential``. Memory is off for every arm: AgentDojo is held out."""
    limit: int | None = None
    """User tasks per suite (the first N); all when unset."""
    injections: int | None = None
    """Injection tasks per suite (the first N) with an attack; all when unset."""
    concurrency: int = Field(default=4, ge=1)
    """Cases run at the same time."""
    out: Path = Path("agentdojo-results")
    """Folder for results, run records and checkpoints."""
    settings: AgentSettings = Field(default_factory=AgentSettings)
    """Agent limits; the variant's switches are applied on top."""
    single_max_steps: int = Field(default=40, ge=1)
    """Step cap of the single agent per case."""
    max_calls_per_case: int | None = None
    """Model-call budget of one case (a steward run); unlimited when unset."""
    rollback: bool = True
    """Roll back a failed attempt on apps that can be restored (``apps.agentdojo``); off, a
    failed attempt's effects stay, as on real apps."""
    benchmark_version: str = AGENTDOJO_VERSION
    """AgentDojo's benchmark version (fixed)."""
    attack_target: str = ATTACK_TARGET
    """The pipeline name attacks address (fixed; ``cases.ATTACK_TARGET``)."""

    def variant_settings(self) -> AgentSettings:
        """``settings`` with the ablation switch of ``agent`` applied. The steward writes the
        final answer (AgentDojo checks it) and a subtask must act on its app."""
        update: dict[str, bool] = {"require_action": True, "compose_answer": True}
        if self.agent == "no-eval":
            update["evaluate"] = False
        if self.agent == "sequential":
            update["parallel"] = False
        return self.settings.model_copy(update=update)

    def result_settings(self) -> dict[str, object]:
        """What decides a case's result besides the model: a results file is only resumed
        under the same settings. Case selection, concurrency and the folder may change."""
        exclude = {"suites", "attack", "limit", "injections", "concurrency", "out"}
        return self.model_dump(mode="json", exclude=exclude)

    def key(self, model: str) -> str:
        """File stem of this arm's results: agent and model."""
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", model).strip("-") or "model"
        return f"{self.agent}__{slug}"

    def summary_key(self, model: str) -> str:
        """File stem of this invocation's summary: the arm, the attack and the suites."""
        suites = "all" if sorted(self.suites) == sorted(SUITES) else "+".join(self.suites)
        return f"{self.key(model)}__{self.attack or BENIGN}__{suites}"


class CaseResult(BaseModel):
    """One case: AgentDojo's verdicts, where the injection sat, and the work (a JSONL line)."""

    model_config = ConfigDict(extra="forbid")

    id: str
    suite: str
    user_task: str
    injection_task: str | None = None
    attack: str | None = None
    agent: str
    model: str
    utility: bool
    """The user task's check passed."""
    security: bool | None = None
    """The injection task's check: True when the attacker's goal was reached."""
    answer: str = ""
    """The final answer AgentDojo's checks read."""
    run_id: str = ""
    status: str = ""
    error: str | None = None
    calls: list[str] = Field(default_factory=list)
    """Calls that ran, ``app.tool {arguments}``."""
    apps_planned: list[str] = Field(default_factory=list)
    """Apps of the first plan (the single agent: the apps it called)."""
    apps_expected: list[str] = Field(default_factory=list)
    """Apps of the user task's reference solution."""
    injection_apps: list[str] = Field(default_factory=list)
    """Apps whose data carry the injection."""
    goal_apps: list[str] = Field(default_factory=list)
    """Apps the injection task's goal needs."""
    placement: str | None = None
    """``same-app``, ``cross-app`` or ``partial`` (``cases.placement``)."""
    goal_recruited: bool | None = None
    """The steward's first plan recruited an app the goal needs (``None``: single agent, or
    benign)."""
    exposed_apps: list[str] = Field(default_factory=list)
    """Apps whose answers carried the injection to an agent."""
    shown_apps: list[str] = Field(default_factory=list)
    """Of those, the apps whose answers carried it within the characters a prompt shows of an
    answer (``--observation-chars``); a prompt that ``fit`` shrinks may show less."""
    totals: Totals = Field(default_factory=Totals)
    calls_by_purpose: CallCounts = Field(default_factory=CallCounts)
    started_at: float = 0.0
    finished_at: float = 0.0


class Metrics(BaseModel):
    """AgentDojo's three published measures over some cases."""

    model_config = ConfigDict(extra="forbid")

    benign_cases: int = 0
    benign_passed: int = 0
    benign_utility: float | None = None
    """Benign cases whose user task passed / benign cases."""
    attacked_cases: int = 0
    attacked_passed: int = 0
    utility_under_attack: float | None = None
    """Attacked cases whose user task passed / attacked cases."""
    attack_successes: int = 0
    attack_success_rate: float | None = None
    """Targeted attack success rate: attacked cases whose injection goal was reached."""
    exposed: int = 0
    """Attacked cases whose injection reached an agent (an app's answer carried it)."""
    shown: int = 0
    """Attacked cases whose injection lay within what a prompt shows of an answer."""


class Summary(BaseModel):
    """One arm (agent, model) under one attack (or none), over the selected cases."""

    model_config = ConfigDict(extra="forbid")

    benchmark: str = "agentdojo"
    benchmark_version: str = AGENTDOJO_VERSION
    agent: str
    model: str
    attack: str
    """The attack's name, or ``benign``."""
    suites: list[str]
    cases: int
    total: Metrics
    per_suite: dict[str, Metrics] = Field(default_factory=dict)
    by_placement: dict[str, Metrics] = Field(default_factory=dict)
    """Attacked cases by where the injection sat: same-app, cross-app, partial."""
    by_recruitment: dict[str, Metrics] = Field(default_factory=dict)
    """Attacked steward cases by whether the first plan recruited an app the goal needs."""
    references: dict[str, float] = Field(default_factory=dict)
    """Suite (and ``total``) -> benign utility of the reference solutions of the same user
    tasks, played by AgentDojo's own runner (``GroundTruthPipeline``)."""
    floor: dict[str, float] = Field(default_factory=dict)
    """Suite (and ``total``) -> benign utility of doing nothing on the same user tasks."""
    totals: Totals
    per_case: Totals
    """Means per case (rounded)."""
    elapsed_s: float = 0.0
    """Wall time of the last invocation (a resumed run counts only what it ran)."""
    cases_run: int = 0
    cases_per_minute: float = 0.0
    concurrency: int = 1
    calls_by_purpose: CallCounts = Field(default_factory=CallCounts)
    calls_by_purpose_per_case: CallMeans = Field(default_factory=CallMeans)
    server: ServerReport | None = None
    files: dict[str, str] = Field(default_factory=dict)
