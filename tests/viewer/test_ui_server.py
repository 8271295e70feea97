"""``steward ui``'s server over HTTP (no browser): it lists runs and results folders, serves
each run's page and its data with an ETag, and says what is wrong in one line."""

from __future__ import annotations

import json
import socket
import sqlite3
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from benchmarks.bfcl.results import TaskResult, TurnResult
from core.errors import UserError
from core.paths import data_dir
from viewer.server import UiServer, UiSources

ROOT = Path(__file__).resolve().parents[2]


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], str]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, dict(answer.headers), answer.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read().decode()


def bench_folder(folder: Path, run_id: str) -> Path:
    """A results folder as `steward bench bfcl` writes it: results lines and runs.db."""
    folder.mkdir()
    source = sqlite3.connect(data_dir() / "runs.db")
    target = sqlite3.connect(folder / "runs.db")
    try:
        source.backup(target)
    finally:
        source.close()
        target.close()
    turns = [TurnResult(index=i, instruction=f"turn {i}", run_id=run_id, status="succeeded")
             for i in range(3)]  # fmt: skip
    tasks = [
        TaskResult(id="multi_turn_base_2", category="multi_turn_base", agent="steward",
                   mode="turns", model="m", valid=True, turns_passed=3, turn_count=3,
                   turns=turns),
        TaskResult(id="multi_turn_base_10", category="multi_turn_base", agent="steward",
                   mode="turns", model="m", valid=False, failed_turn=1, turns_passed=1,
                   turn_count=3, error_message="state mismatch <b>", turns=turns),
    ]  # fmt: skip
    lines = [t.model_dump_json() for t in reversed(tasks)] + ["not json", '{"no": "id"}']
    (folder / "multi_turn_base__steward__turns__m.jsonl").write_text("\n".join(lines) + "\n")
    (folder / "memory.db.learned.jsonl").write_text('{"index": 2}\n')  # a memory's ledger
    return folder


@pytest.fixture
def server(demo: str, tmp_path: Path) -> Iterator[UiServer]:
    sources = UiSources(store=data_dir() / "runs.db", bench=[bench_folder(tmp_path / "out", demo)])
    ui = UiServer(sources)
    ui.start()
    try:
        yield ui
    finally:
        ui.shutdown()
        ui.server_close()


def test_the_start_page_lists_the_runs_and_results(server: UiServer, demo: str) -> None:
    status, headers, page = get(server.url)
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert f'href="/run/runs/{demo}"' in page
    assert "multi_turn_base__steward__turns__m.jsonl" in page
    assert "learned" not in page  # the memory's ledger is no results file
    assert "script" not in headers["Content-Security-Policy"]
    status, _, data = get(server.url + "api/runs")
    assert [r["run_id"] for r in json.loads(data)["runs"]] == [demo]


def test_a_results_page_gives_pass_or_fail_per_turn_linked_to_runs(
    server: UiServer, demo: str
) -> None:
    status, _, page = get(server.url + "bench/0/multi_turn_base__steward__turns__m.jsonl")
    assert status == 200
    assert "2 tasks, 1 passed. 2 line(s) were not results." in page
    assert page.count(f'href="/run/bench-0/{demo}"') == 6  # every turn that ran
    assert page.count('class="cell pass"') == 4 and page.count('class="cell fail"') == 1
    assert page.count('class="cell unchecked"') == 1
    assert "state mismatch &lt;b&gt;" in page
    assert page.index('data-task="multi_turn_base_2"') < page.index(
        'data-task="multi_turn_base_10"'
    )
    status, _, run_page = get(server.url + f"run/bench-0/{demo}")
    assert status == 200 and demo in run_page


def test_an_agentdojo_results_page_gives_each_case_its_run(demo: str, tmp_path: Path) -> None:
    from benchmarks.agentdojo.results import CaseResult

    folder = bench_folder(tmp_path / "dojo", demo)
    (folder / "multi_turn_base__steward__turns__m.jsonl").unlink()
    cases = [
        CaseResult(id="banking/user_task_0", suite="banking", user_task="user_task_0",
                   agent="steward", model="m", utility=True, run_id=demo),
        CaseResult(id="banking/user_task_0/injection_task_1/direct", suite="banking",
                   user_task="user_task_0", injection_task="injection_task_1", attack="direct",
                   agent="steward", model="m", utility=False, security=True, run_id=demo),
    ]  # fmt: skip
    (folder / "steward__m.jsonl").write_text("".join(c.model_dump_json() + "\n" for c in cases))
    ui = UiServer(UiSources(store=data_dir() / "runs.db", bench=[folder]))
    ui.start()
    try:
        status, _, page = get(ui.url + "bench/0/steward__m.jsonl")
    finally:
        ui.shutdown()
        ui.server_close()
    assert status == 200 and "2 tasks, 1 passed." in page
    assert "<th>run</th>" in page and "turn 0" not in page
    assert page.count(f'href="/run/bench-0/{demo}"') == 2
    assert page.count('class="cell pass"') == 1 and page.count('class="cell fail"') == 1
    assert "attacked (direct): the attacker&#x27;s goal was reached" in page


def test_a_run_page_is_live_and_its_data_has_an_etag(server: UiServer, demo: str) -> None:
    status, headers, page = get(server.url + f"run/runs/{demo[:5]}")
    assert status == 200
    policy = headers["Content-Security-Policy"]
    assert "connect-src 'self'" in policy and "'unsafe-inline'" not in policy
    assert f'"url":"/api/run/runs/{demo}"' in page
    status, headers, data = get(server.url + f"api/run/runs/{demo}")
    assert status == 200 and json.loads(data)["run"]["id"] == demo
    tag = headers["ETag"]
    assert f'"etag":"\\"{tag.strip(chr(34))}\\""' in page
    status, _, _ = get(server.url + f"api/run/runs/{demo}", {"If-None-Match": tag})
    assert status == 304


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("run/runs/nosuchrun", "no run &#x27;nosuchrun&#x27;; `steward runs` lists the runs"),
        ("api/run/runs/nosuchrun", "no run &#x27;nosuchrun&#x27;"),
        ("run/bench-7/x", "no run store &#x27;bench-7&#x27;"),
        ("bench/0/../../etc/passwd", "no page"),
        ("bench/0/nothere.jsonl", "no results file"),
        ("elsewhere", "no page /elsewhere"),
    ],
)
def test_what_is_missing_is_a_one_line_404(server: UiServer, path: str, message: str) -> None:
    status, _, page = get(server.url + path)
    assert status == 404 and message in page


def test_a_port_in_use_says_so(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(UserError, match=f"port {port} on 127.0.0.1 is in use"):
            UiServer(UiSources(store=tmp_path / "runs.db"), port=port)
        from cli.main import cli

        result = CliRunner().invoke(cli, ["ui", "--port", str(port)])
        assert result.exit_code == 2
        assert (
            result.output.strip()
            .splitlines()[-1]
            .startswith(f"Error: port {port} on 127.0.0.1 is in use")
        )


def test_steward_ui_serves_a_page_that_lists_the_run(demo: str) -> None:
    """The command itself, in its own process, on a free port."""
    code = "import sys; from cli.main import cli; cli(sys.argv[1:])"
    with subprocess.Popen([sys.executable, "-c", code, "ui", "--port", "0"], cwd=ROOT,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as process:  # fmt: skip
        try:
            assert process.stdout is not None
            line = process.stdout.readline()
            assert line.startswith("Steward UI on http://127.0.0.1:"), line + _rest(process)
            url = line.split()[3]
            status, _, page = get(url)
            assert status == 200 and demo in page
            process.terminate()  # SIGTERM, as a service manager stops it: a clean stop
            out, err = process.communicate(timeout=10)
            assert process.returncode == 0, err
            assert out.strip() == "stopped" and not err
        finally:
            if process.poll() is None:
                process.kill()


def _rest(process: subprocess.Popen[Any]) -> str:
    process.kill()
    return process.communicate(timeout=10)[1]
