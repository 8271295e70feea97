"""Which roles train and how one step budget is shared; bad input is a one-line error."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from cli.main import cli
from core.errors import UserError
from training.budget import pick_roles, split_steps

ROLES = {"steward": 754, "<app:file_system>": 196, "<app:posting>": 59, "<app:math>": 10}


def test_a_budget_is_shared_in_proportion_to_the_examples() -> None:
    steps = split_steps(ROLES, 400)
    assert sum(steps.values()) == 400 and min(steps.values()) >= 1
    assert steps["steward"] > steps["<app:file_system>"] > steps["<app:posting>"]
    assert split_steps({"a": 1, "b": 1}, 2) == {"a": 1, "b": 1}
    with pytest.raises(UserError, match="cannot train 4 adapters"):
        split_steps(ROLES, 3)


def test_roles_are_named_by_app_or_token() -> None:
    assert pick_roles(ROLES, "steward,file_system") == ["steward", "<app:file_system>"]
    assert pick_roles(ROLES, None) == sorted(ROLES)
    with pytest.raises(UserError, match="no examples for 'vehicle'"):
        pick_roles(ROLES, "vehicle")


def test_training_without_verified_runs_is_a_one_line_error() -> None:
    result = CliRunner().invoke(cli, ["train", "--json"])
    assert result.exit_code == 2
    assert "no verified runs to learn from" in result.output
    assert "Traceback" not in result.output
