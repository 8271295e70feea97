"""Agents: the steward (plan, evaluate, re-plan, answer), staff agents, the specialist registry.

Uses the model client, the ``App`` protocol and the memory interface; knows nothing of langgraph.
"""

from agents.budget import Budget, BudgetLimits
from agents.fallback import PlanTemplate, plan_templates, tool_lines
from agents.plan import SchedulingGraph, Subtask, plan_schema, topological_order, validate_graph
from agents.records import (
    Action,
    Attempt,
    RunRecord,
    Step,
    SubtaskRecord,
    Verdict,
)
from agents.registry import (
    ENTRY_POINT_GROUP,
    Registry,
    Specialist,
    default_registry,
    register,
    token_for,
)
from agents.repair import repair_graph
from agents.settings import AgentSettings
from agents.staff import StaffAgent, action_schema
from agents.steward import STEWARD, ModelFor, PlanResult, StewardAgent

__all__ = [
    "ENTRY_POINT_GROUP",
    "STEWARD",
    "Action",
    "AgentSettings",
    "Attempt",
    "Budget",
    "BudgetLimits",
    "ModelFor",
    "PlanResult",
    "PlanTemplate",
    "Registry",
    "RunRecord",
    "SchedulingGraph",
    "Specialist",
    "StaffAgent",
    "Step",
    "StewardAgent",
    "Subtask",
    "SubtaskRecord",
    "Verdict",
    "action_schema",
    "default_registry",
    "plan_schema",
    "plan_templates",
    "register",
    "repair_graph",
    "token_for",
    "tool_lines",
    "topological_order",
    "validate_graph",
]
