"""``steward bench memory``: fill memory in stages, evaluate each copy on unseen tasks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from pydantic import ValidationError

from benchmarks.bfcl import OracleSource
from benchmarks.bfcl.curve import CurveConfig, copy_database, run_curve
from benchmarks.bfcl.split import SplitLeakError
from cli.main import cli
from core.errors import UserError
from memory import MemoryStore, default_path


def test_slices_must_not_overlap_and_points_fit_the_fill() -> None:
    with pytest.raises(ValidationError, match="overlap"):
        CurveConfig(split="blocks", fill=10, eval=5, eval_offset=8)
    with pytest.raises(ValidationError, match="needs split 'blocks'"):
        CurveConfig(fill=10, eval=5, eval_offset=30)
    with pytest.raises(ValidationError, match="beyond"):
        CurveConfig(fill=10, points=[20])
    cfg = CurveConfig(split="blocks", fill=10, eval=5, points=[10, 4, 4])
    assert cfg.points == [0, 4, 10] and cfg.eval_start == 10
    assert cfg.fill_indices(4, 10) == [4, 5, 6, 7, 8, 9] and cfg.eval_indices()[0] == 10
    assert CurveConfig(fill=8).points == [0, 4, 8]
    mixed = CurveConfig(fill=3, eval=2, fill_offset=10)
    assert (mixed.fill_indices(), mixed.eval_indices()) == ([10, 12, 14], [11, 13])


async def test_curve_with_the_oracle(tmp_path: Path) -> None:
    cfg = CurveConfig(fill=4, eval=2, points=[2, 4], out=tmp_path / "curve")
    stages: list[str] = []
    curve = await run_curve(cfg, OracleSource, OracleSource, on_stage=stages.append)
    assert [p.tasks_seen for p in curve.points] == [0, 2, 4]
    off, half, full = curve.points
    assert not off.memory and off.summary.agent == "no-memory" and off.retrieved_per_turn == 0
    assert half.memory and half.summary.agent == "steward"
    assert 0 < half.guidelines < full.guidelines and 0 < half.expertise <= full.expertise
    assert half.retrieved_per_turn > 0 and full.retrieved_per_turn > 0
    # memory-on and off see the same tasks and the oracle solves them either way
    assert {p.summary.tasks for p in curve.points} == {2}
    assert all(p.summary.accuracy == 1.0 for p in curve.points)
    assert (curve.fill_tasks, curve.fill_passed) == (4, 4) and len(stages) == 5
    # evaluation is read-only: its copy gains no entries; the user's memory is untouched
    with MemoryStore(cfg.out / "eval" / "after-0004" / "memory.db") as used:
        assert used.stats()["guidelines"]["count"] == full.guidelines
    assert not default_path().exists()
    table = (cfg.out / "curve.md").read_text()
    assert "| 0 | off | 0 | 0 | 0.00 | - | 100.0 |" in table
    assert off.template_share == 0 and off.template_match is None
    assert full.template_share == 1.0 and full.template_match is not None
    assert json.loads((cfg.out / "curve.json").read_text())["points"][2]["tasks_seen"] == 4


async def test_a_failing_fill_learns_nothing_and_resume_skips_done_work(tmp_path: Path) -> None:
    cfg = CurveConfig(fill=2, eval=1, points=[2], out=tmp_path)
    broken = lambda: OracleSource(broken=True)  # noqa: E731
    curve = await run_curve(cfg, broken, OracleSource)
    assert (curve.fill_tasks, curve.fill_passed) == (2, 0)
    assert (curve.points[1].guidelines, curve.points[1].expertise) == (0, 0)
    assert curve.points[1].retrieved_per_turn == 0
    again = await run_curve(cfg, broken, OracleSource)
    assert (again.fill_tasks, again.fill_passed) == (2, 0)
    assert all(p.summary.tasks_run == 0 for p in again.points)


def test_copy_database_is_a_consistent_copy(tmp_path: Path) -> None:
    from memory import GuidelineEntry, Provenance

    with MemoryStore(tmp_path / "a.db") as store:
        store.add_guideline(
            GuidelineEntry(
                instruction="book a flight",
                graph={"nodes": []},
                guideline="one subtask",
                provenance=Provenance(run_id="r1", model="m", source="run"),
            )
        )
        copy_database(tmp_path / "a.db", tmp_path / "copies" / "b.db")  # while open (WAL)
    with MemoryStore(tmp_path / "copies" / "b.db") as copy:
        assert [e.instruction for e in copy.list("guideline")] == ["book a flight"]
    assert not list((tmp_path / "copies").glob("*.partial"))


def test_bench_memory_cli(tmp_path: Path) -> None:
    args = ["bench", "memory", "--model", "oracle", "--fill", "2", "--eval", "1"]
    args += ["--out", str(tmp_path), "-q"]
    runner = CliRunner()
    result = runner.invoke(cli, [*args, "--json"])
    assert result.exit_code == 0, result.output
    curve = json.loads(result.stdout)
    assert [p["tasks_seen"] for p in curve["points"]] == [0, 1, 2]
    assert Path(curve["files"]["markdown"]).exists()
    text = runner.invoke(cli, [*args, "--fresh"])
    assert text.exit_code == 0, text.output
    assert "memory curve on multi_turn_base" in text.stdout and "curve.md" in text.stdout
    assert "memory learned from task indices 0, 2 (2 of 2 fill tasks passed)" in text.stdout
    assert "evaluated on 1\n" in text.stdout
    bad = runner.invoke(cli, [*args, "--split", "blocks", "--eval-offset", "1"])
    assert bad.exit_code == 2 and "overlap" in bad.output
    assert runner.invoke(cli, [*args, "--points", "x"]).exit_code == 2


async def test_a_point_added_later_gets_the_memory_of_exactly_its_tasks(tmp_path: Path) -> None:
    first = await run_curve(
        CurveConfig(fill=4, eval=1, points=[4], out=tmp_path), OracleSource, OracleSource
    )
    later = await run_curve(
        CurveConfig(fill=4, eval=1, points=[2, 4], out=tmp_path), OracleSource, OracleSource
    )
    fresh = await run_curve(
        CurveConfig(fill=4, eval=1, points=[2], out=tmp_path / "fresh"), OracleSource, OracleSource
    )
    assert later.points[1].guidelines == fresh.points[1].guidelines
    assert later.points[1].guidelines < later.points[2].guidelines == first.points[1].guidelines
    assert [p.summary.tasks_run for p in later.points] == [0, 1, 0]
    assert later.fill_tasks == 4  # the new stage's 2 tasks are among the earlier 4


async def test_a_folder_with_other_settings_is_not_resumed(tmp_path: Path) -> None:
    await run_curve(CurveConfig(fill=1, eval=1, out=tmp_path), OracleSource, OracleSource)
    other = CurveConfig(fill=1, eval=1, out=tmp_path, memory_retrieval="fts")
    with pytest.raises(UserError, match=r"memory_retrieval: None -> 'fts'.*--fresh"):
        await run_curve(other, OracleSource, OracleSource)
    with pytest.raises(UserError, match="eval_model: 'oracle' -> 'oracle-broken'"):
        await run_curve(
            CurveConfig(fill=1, eval=1, out=tmp_path),
            OracleSource,
            lambda: OracleSource(broken=True),
        )
    more = CurveConfig(fill=1, eval=1, out=tmp_path, points=[1], concurrency=2)
    assert len((await run_curve(more, OracleSource, OracleSource)).points) == 2


async def test_the_curve_says_what_memory_learned_from_and_never_evaluates_it(
    tmp_path: Path,
) -> None:
    cfg = CurveConfig(fill=3, eval=2, points=[3], out=tmp_path)
    broken_eval = lambda: OracleSource(broken=True)  # noqa: E731
    curve = await run_curve(cfg, OracleSource, broken_eval)
    assert curve.learned_indices == [0, 2, 4] and curve.fill_scripted
    assert not set(curve.learned_indices) & set(cfg.eval_indices())
    table = (tmp_path / "curve.md").read_text()
    assert "memory learned only from those: task indices 0, 2, 4." in table
    assert "`oracle` is a scripted model: its entries are offered to `oracle-broken`" in table
    assert json.loads((tmp_path / "curve.json").read_text())["learned_indices"] == [0, 2, 4]
    # the evaluated copy keeps the ledger of what its memory learned from
    assert (tmp_path / "eval" / "after-0003" / "memory.db.learned.jsonl").exists()


async def test_an_evaluation_slice_that_leaks_a_fill_index_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Even past the configuration check, the evaluation refuses tasks its memory learned
    from: the memory copies carry their ledgers."""
    cfg = CurveConfig(fill=2, eval=2, points=[2], out=tmp_path)
    monkeypatch.setattr(CurveConfig, "eval_indices", lambda self: [1, 2])  # 2 is a fill task
    with pytest.raises(SplitLeakError, match=r"task\(s\) 2 \(multi_turn_base\)"):
        await run_curve(cfg, OracleSource, OracleSource)
