"""Shared ground floor of Steward: errors, usage accounting, call records and data paths.

Every other package may import from here; this package imports nothing of ours.
"""

from core.errors import (
    BadInstructionError,
    BudgetExceededError,
    ConfigError,
    ModelOutputError,
    PlanInvalidError,
    RunError,
    ScenarioError,
    ServerError,
    ServerUnreachableError,
    StewardError,
    ToolError,
    UnknownAgentError,
    UserError,
)
from core.paths import cache_dir, data_dir
from core.usage import CallRecord, Usage

__all__ = [
    "BadInstructionError",
    "BudgetExceededError",
    "CallRecord",
    "ConfigError",
    "ModelOutputError",
    "PlanInvalidError",
    "RunError",
    "ScenarioError",
    "ServerError",
    "ServerUnreachableError",
    "StewardError",
    "ToolError",
    "UnknownAgentError",
    "Usage",
    "UserError",
    "cache_dir",
    "data_dir",
]
