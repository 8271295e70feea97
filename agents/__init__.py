"""Agents: the steward (plan, evaluate, re-plan, answer), staff agents, the specialist registry.

Uses the model client, the ``App`` protocol and the memory interface; knows nothing of langgraph.
The names below load on first use (``from agents import StewardAgent`` imports the steward's
module then), so a command that needs only the registry does not import the rest.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agents.budget import Budget, BudgetLimits
    from agents.fallback import PlanTemplate, plan_templates, tool_lines
    from agents.plan import (
        SchedulingGraph,
        Subtask,
        plan_schema,
        topological_order,
        validate_graph,
    )
    from agents.records import Action, Attempt, RunRecord, Step, SubtaskRecord, Verdict
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

_WHERE = {
    "agents.budget": ["Budget", "BudgetLimits"],
    "agents.fallback": ["PlanTemplate", "plan_templates", "tool_lines"],
    "agents.plan": [
        "SchedulingGraph", "Subtask", "plan_schema", "topological_order", "validate_graph",
    ],
    "agents.records": ["Action", "Attempt", "RunRecord", "Step", "SubtaskRecord", "Verdict"],
    "agents.registry": [
        "ENTRY_POINT_GROUP", "Registry", "Specialist", "default_registry", "register", "token_for",
    ],
    "agents.repair": ["repair_graph"],
    "agents.settings": ["AgentSettings"],
    "agents.staff": ["StaffAgent", "action_schema"],
    "agents.steward": ["STEWARD", "ModelFor", "PlanResult", "StewardAgent"],
}  # fmt: skip
_MODULE_OF = {name: module for module, names in _WHERE.items() for name in names}

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


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'agents' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
