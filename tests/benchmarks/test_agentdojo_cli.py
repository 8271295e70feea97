"""``steward bench agentdojo`` in-process: the acceptance checks, bad input, and a start-up
that never imports agentdojo."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from apps.agentdojo import load_suites
from apps.agentdojo_catalog import AGENTDOJO_APPS
from cli.main import cli
from modelclient import StubServer

ROOT = Path(__file__).resolve().parents[2]


def bench(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["bench", "agentdojo", *args])
    return result.exit_code, result.stdout, result.stderr


def test_oracle_on_banking_scores_the_references_own_benign_utility(tmp_path: Path) -> None:
    code, out, err = bench(
        "--suite", "banking", "--model", "oracle", "--json", "--out", str(tmp_path)
    )
    assert code == 0, err
    summary = json.loads(out)
    assert summary["total"]["benign_utility"] == summary["references"]["banking"] == 1.0
    assert summary["total"]["benign_cases"] == 16 and summary["suites"] == ["banking"]
    assert Path(summary["files"]["results"]).exists() and "16/16 cases" in err


def test_broken_oracle_scores_the_floor_in_text(tmp_path: Path) -> None:
    args = ("--suite", "banking", "--model", "oracle-broken", "--agent", "single", "-q")
    code, out, err = bench(*args, "--out", str(tmp_path))
    assert code == 0 and err == ""
    assert "banking: benign utility 31.2% (5/16; references 100.0%, floor 31.2%)" in out


def test_attack_run_reports_the_three_measures(tmp_path: Path) -> None:
    args = ("--suite", "slack", "--attack", "tool_knowledge", "--limit", "1", "--injections", "2")
    code, out, _ = bench(*args, "--model", "oracle", "-q", "--out", str(tmp_path))
    assert code == 0, out
    assert "utility under attack 100.0%, attack success 0.0% (0/2)" in out


def _tools_offered(request: dict[str, Any]) -> set[str]:
    """The tools an action request lets the model call (none for other requests)."""
    schema = (request.get("response_format") or {}).get("json_schema") or {}
    if schema.get("name") != "action":
        return set()
    branches = schema["schema"].get("anyOf", [schema["schema"]])
    return {b["properties"]["tool"]["const"] for b in branches} - {"finish"}


def test_a_served_model_runs_both_arms_and_staff_see_only_their_apps_tools(
    tmp_path: Path,
) -> None:
    apps = {app.name: set(app.tools) for app in AGENTDOJO_APPS["banking"]}
    every_tool = set().union(*apps.values())
    args = ("--suite", "banking", "--attack", "important_instructions", "--limit", "1")
    offered: dict[str, list[set[str]]] = {}
    with StubServer() as stub:
        for agent in ("steward", "single"):
            start = len(stub.requests)
            code, out, err = bench(
                *args, "--injections", "1", "--agent", agent, "--base-url", stub.url,
                "--model", "stub-model", "--no-autostart", "--json", "-q", "--out", str(tmp_path),
            )  # fmt: skip
            assert code == 0, err
            summary = json.loads(out)
            assert summary["model"] == "stub-model" and summary["cases"] == 2
            assert summary["per_case"]["model_calls"] > 0
            assert summary["per_case"]["prompt_tokens"] > 0
            offered[agent] = [t for r in stub.requests[start:] if (t := _tools_offered(r))]
    assert offered["steward"] and offered["single"]
    assert all(any(tools <= own for own in apps.values()) for tools in offered["steward"])
    assert all(tools == every_tool for tools in offered["single"])
    table = (tmp_path / "results.md").read_text()
    assert "| single | stub-model | important_instructions |" in table
    assert "| steward | stub-model | important_instructions |" in table


def test_unknown_attack_lists_the_attacks() -> None:
    code, _, err = bench("--suite", "banking", "--attack", "nope", "--model", "oracle")
    assert code == 2
    assert "unknown attack 'nope'; attacks: direct, " in err and "important_instructions" in err
    assert "manual" not in err and "dos" not in err


def test_unknown_suite_lists_the_suites() -> None:
    result = CliRunner().invoke(cli, ["bench", "agentdojo", "--suite", "shopping"])
    assert result.exit_code == 2
    assert "'workspace', 'travel', 'banking', 'slack', 'all'" in result.output


def test_a_folder_made_with_other_settings_is_refused(tmp_path: Path) -> None:
    common = (
        "--suite",
        "banking",
        "--limit",
        "1",
        "--model",
        "oracle",
        "-q",
        "--out",
        str(tmp_path),
    )
    assert bench(*common)[0] == 0
    code, _, err = bench(*common, "--no-rollback")
    assert code == 2 and "other settings (rollback differ)" in err
    code, _, err = bench(*common, "--observation-chars", "20000", "--prompt-chars", "60000")
    assert code == 2
    assert "(settings.observation_chars, settings.prompt_chars differ)" in err
    code, out, _ = bench(*common, "--no-rollback", "--fresh")
    assert code == 0 and "1 case(s)" in out


def test_teacher_is_refused() -> None:
    code, _, _ = bench("--suite", "banking", "--model", "teacher")
    assert code == 2


def test_missing_agentdojo_is_a_one_line_error(monkeypatch: pytest.MonkeyPatch) -> None:
    load_suites.cache_clear()
    monkeypatch.setitem(sys.modules, "agentdojo.task_suite.load_suites", None)
    try:
        code, out, err = bench("--suite", "banking", "--model", "oracle")
    finally:
        load_suites.cache_clear()
    assert code == 2 and out == ""
    assert err.startswith("Error: AgentDojo is not installed") and err.count("\n") == 1
    assert "bash scripts/setup.sh" in err


@pytest.mark.parametrize(
    "args", [["--help"], ["bench", "--help"], ["bench", "agentdojo", "--help"]]
)
def test_help_never_imports_agentdojo(args: list[str]) -> None:
    code = (
        "import sys\nfrom cli.main import main\nsys.argv = ['steward', *sys.argv[1:]]\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print('AGENTDOJO' if any(m.split('.')[0] == 'agentdojo' for m in sys.modules) else 'NONE')"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=ROOT, check=False
    )
    assert done.stdout.strip().splitlines()[-1] == "NONE", done.stderr[-2000:]
