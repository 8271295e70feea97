"""Start-up: the light commands import neither langgraph, openai, numpy, matplotlib nor the
benchmarks (checked in a fresh interpreter that notes who imports what, not by timing), and the
lazy command groups still list, load and run every command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from cli.main import BENCH_COMMANDS, COMMANDS, cli, load_command

HEAVY = ("langgraph", "openai", "numpy", "matplotlib", "benchmarks")
ROOT = Path(__file__).resolve().parents[2]
PLUGIN = ROOT / "examples" / "weather_plugin"

# the console script's entry point, with a finder that notes which module first imported each
# heavy module (the nearest caller outside the import machinery)
INVOKE = f"""
import atexit, json, os, sys
HEAVY = {HEAVY!r}
seen = {{}}
class Watch:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in HEAVY and name not in seen:
            frame = sys._getframe(1)
            while frame is not None and (
                frame.f_code.co_filename.startswith("<frozen")
                or frame.f_globals.get("__name__", "").startswith("importlib")
            ):
                frame = frame.f_back
            seen[name] = frame.f_globals.get("__name__", "") if frame is not None else ""
        return None
sys.meta_path.insert(0, Watch())
def dump():
    with open(os.environ["IMPORTS_OUT"], "w") as out:
        json.dump({{n: seen[n] for n in seen if n in sys.modules}}, out)
atexit.register(dump)
from cli.main import main
main()
"""


def imports(*args: str, tmp: Path, path: Path | None = None) -> tuple[str, dict[str, str]]:
    """Run ``steward ARGS`` in a fresh interpreter: its output, and each heavy module it
    imported mapped to the module that imported it."""
    env = dict(os.environ, IMPORTS_OUT=str(tmp / "imports.json"))
    env["PYTHONPATH"] = os.pathsep.join(str(p) for p in (ROOT, path) if p)
    done = subprocess.run(
        [sys.executable, "-c", INVOKE, *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    return done.stdout, json.loads((tmp / "imports.json").read_text())


def heavy(importers: dict[str, str], *, numpy_via_sqlite_utils: bool = False) -> list[str]:
    """The heavy modules imported, as ``name (by importer)``; a module imported by its own
    package does not count again. With ``numpy_via_sqlite_utils``, numpy is fine when
    sqlite-utils imported it itself: it does whenever numpy is installed, and every store of
    runs or memory is a sqlite-utils database."""
    found = []
    for name, importer in importers.items():
        root = name.split(".")[0]
        if importer.split(".")[0] == root:
            continue
        if root == "numpy" and numpy_via_sqlite_utils and importer == "sqlite_utils.db":
            continue
        found.append(f"{name} (by {importer or '?'})")
    return found


def test_help_imports_nothing_heavy(tmp_path: Path) -> None:
    out, importers = imports("--help", tmp=tmp_path)
    assert heavy(importers) == []
    for name, (_, help_text) in COMMANDS.items():  # every command, with its one-line help
        assert f"  {name}" in out and help_text in out


@pytest.mark.parametrize(
    "args", [("runs",), ("runs", "--json"), ("memory", "list"), ("bench", "--help")]
)
def test_light_commands_import_nothing_heavy(args: tuple[str, ...], tmp_path: Path) -> None:
    _, importers = imports(*args, tmp=tmp_path)
    assert heavy(importers, numpy_via_sqlite_utils=True) == []


@pytest.fixture(scope="module")
def plugin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("site")
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index"]
    pip += ["--no-build-isolation", "--target", str(target), str(PLUGIN)]
    subprocess.run(pip, check=True, capture_output=True)
    return target


def test_agents_lists_plugin_specialists_and_imports_nothing_heavy(
    plugin: Path, tmp_path: Path
) -> None:
    out, importers = imports("agents", "--json", tmp=tmp_path, path=plugin)
    tokens = [a["task_token"] for a in json.loads(out)["agents"]]
    assert "<app:weather>" in tokens and "<app:messaging>" in tokens
    assert heavy(importers, numpy_via_sqlite_utils=True) == []


def test_show_imports_nothing_heavy(tmp_path: Path) -> None:
    """Showing a run reads its record: no orchestrator, so no langgraph."""
    plan = {"nodes": [{"id": "s1", "task_token": "<app:math>", "instruction": "1+1", "needs": []}]}
    finish = {"thought": "", "tool": "finish", "result": "2"}
    verdict = {"success": False, "failure_kind": "other", "tips": "", "key_info": ""}
    script = tmp_path / "answers.jsonl"
    script.write_text("\n".join(json.dumps(x) for x in (plan, finish, verdict)))
    args = ["run", "1+1", "--model", f"script:{script}", "--no-memory", "-q", "--max-retries", "0"]
    CliRunner().invoke(cli, args, catch_exceptions=False)
    [run] = json.loads(CliRunner().invoke(cli, ["runs", "--json"]).stdout)["runs"]
    for extra in ((), ("--diff",), ("--json",)):
        out, importers = imports("show", run["run_id"], *extra, tmp=tmp_path)
        assert run["run_id"] in out
        assert heavy(importers, numpy_via_sqlite_utils=True) == []


def test_the_watch_sees_what_a_full_command_imports(tmp_path: Path) -> None:
    """The guard itself: `run --help` loads the run command, which imports langgraph."""
    _, importers = imports("run", "--help", tmp=tmp_path)
    assert any(name.startswith("langgraph") for name in heavy(importers))


@pytest.mark.parametrize(
    ("group", "table"), [((), COMMANDS), (("bench",), BENCH_COMMANDS)], ids=["steward", "bench"]
)
def test_every_lazy_command_loads_under_its_name(
    group: tuple[str, ...], table: dict[str, tuple[str, str]]
) -> None:
    for name, (target, help_text) in table.items():
        command = load_command(target)
        assert isinstance(command, click.Command) and command.name == name, target
        assert help_text and len(help_text) <= 60
        result = CliRunner().invoke(cli, [*group, name, "--help"], catch_exceptions=False)
        assert result.exit_code == 0 and "Usage: " in result.output, (name, result.output)


def test_unknown_command_is_a_usage_error() -> None:
    result = CliRunner().invoke(cli, ["rnu"])
    assert result.exit_code == 2 and "No such command 'rnu'" in result.output
