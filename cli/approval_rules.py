"""Which calls of a CLI run need approval, and under which policy: the ``[approval]`` table of
the config file, ``$STEWARD_APPROVE`` and ``--approve``; and the rules a stored run was made
with (``steward resume`` and ``steward approve`` apply the same ones).

Defaults: ``steward run`` and ``steward resume`` ``ask`` (on a terminal you are asked, elsewhere
the run waits, exit code 4, for ``steward approve``); ``steward mcp-serve`` and ``steward
replay`` ``deny`` (no one can answer there); the benchmarks ``auto``.
"""

from __future__ import annotations

import os
import tomllib
from typing import Any

import click
from pydantic import ValidationError

from agents.settings import ApprovalPolicy, ApprovalSettings
from cli.build import command_config
from core.errors import ConfigError

APPROVE_ENV = "STEWARD_APPROVE"
"""The approval policy of ``steward run`` when ``--approve`` is not given: ask, auto or deny."""

APPROVE_HELP = (
    "What happens to calls that need approval (tools marked sensitive, MCP destructive ones, "
    "[approval] tools in the config): ask (on a terminal you are asked; elsewhere the run "
    "stops, exit code 4, until `steward approve`), auto (run them) or deny (refuse them; the "
    "agent is told). Default: $STEWARD_APPROVE, else [approval] policy, else ask."
)
POLICIES = click.Choice(["ask", "auto", "deny"])


def approval_settings(config: str | None, policy: str | None = None) -> ApprovalSettings:
    """The run's approval rules: the ``[approval]`` table of the config file (``tools``:
    patterns of tools that need approval; ``policy``), the policy overridden by
    ``$STEWARD_APPROVE``, then by ``policy`` (``--approve``). The default policy is ``ask``."""
    from apps.mcp.config import config_file

    table: Any = {}
    file = config_file(config or command_config())
    if file is not None:
        try:
            table = tomllib.loads(file.read_text(encoding="utf-8")).get("approval", {})
        except (tomllib.TOMLDecodeError, OSError) as exc:
            raise ConfigError(f"{file}: cannot read: {exc}") from None
    if not isinstance(table, dict):
        raise ConfigError(f'{file}: [approval] must be a table, e.g. tools = ["*.rm"]')
    chosen = policy or os.environ.get(APPROVE_ENV) or table.get("policy") or "ask"
    try:
        return ApprovalSettings.model_validate({**table, "policy": chosen})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(
            f"approval {where}: {first['msg']} (from {file or APPROVE_ENV}); the policy is ask, "
            'auto or deny, tools a list of patterns like "<app:trading>.*" or "*.rm"'
        ) from None


def approval_of(saved: dict[str, Any], policy: ApprovalPolicy | None) -> ApprovalSettings:
    """The approval rules a stored run was made with (its settings; a run stored without
    them: the default rules, policy ``deny``), ``policy`` overriding."""
    rules = ApprovalSettings.model_validate(saved.get("approval") or {})
    return rules.model_copy(update={"policy": policy}) if policy else rules
