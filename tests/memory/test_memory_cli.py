from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from cli.main import cli
from memory import MemoryStore
from tests.memory.factories import expertise, guideline


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "cli" / "memory.db"
    monkeypatch.setenv("STEWARD_MEMORY_DB", str(path))
    with MemoryStore(path) as store:
        store.add_guideline(
            guideline(
                "Book a flight to Paris and tweet the booking id",
                "<app:travel>",
                "<app:twitter>",
                text="the booking id flows to the tweet",
            )
        )
        store.add_guideline(guideline("Send hello to Alice", "<app:message>"))
        store.add_expertise(expertise("Post a tweet with the id", tips=["log in first"]))
        store.add_expertise(expertise("Send a message to Bob", token="<app:message>"))
    return path


def run(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(cli, ["memory", *args], input=input)


def test_help() -> None:
    result = run("--help")
    assert result.exit_code == 0
    for command in ("list", "show", "search", "export", "import", "prune", "clear"):
        assert command in result.output


def test_list_table_and_json(db: Path) -> None:
    result = run("list")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0].split()[:4] == ["KIND", "ID", "SUCC", "USES"]
    assert "Book a flight to Paris" in result.output
    result = run("list", "--kind", "expertise", "--token", "<app:message>", "--json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert [(d["kind"], d["subtask"]) for d in data] == [("expertise", "Send a message to Bob")]
    assert len(json.loads(run("list", "--limit", "1", "--json").stdout)) == 1


def test_list_empty(tmp_path: Path) -> None:
    result = run("--db", str(tmp_path / "empty.db"), "list")
    assert result.exit_code == 0
    assert "No memory entries." in result.output


def test_show(db: Path) -> None:
    result = run("show", "guideline", "1")
    assert result.exit_code == 0, result.output
    assert "the booking id flows to the tweet" in result.output
    assert '"task_token": "<app:twitter>"' in result.output
    data = json.loads(run("show", "expertise", "1", "--json").stdout)
    assert data["tips"] == ["log in first"]
    result = run("show", "expertise", "99")
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "Error: no expertise entry with id 99; see `steward memory list --kind expertise`"
    )
    assert run("show", "runs", "1").exit_code == 2


def test_search(db: Path) -> None:
    result = run("search", "flight to Paris", "--json")
    assert result.exit_code == 0, result.output
    hits = json.loads(result.stdout)
    assert hits[0]["instruction"] == "Book a flight to Paris and tweet the booking id"
    assert hits[0]["score"] > 0
    result = run("search", "send", "--token", "<app:message>", "--json")
    assert {(h["kind"], h["id"]) for h in json.loads(result.stdout)} == {
        ("guideline", 2),
        ("expertise", 2),
    }
    result = run("search", "tweet", "--kind", "expertise", "-k", "1")
    assert result.exit_code == 0
    assert "Post a tweet with the id" in result.output
    assert "Book a flight" not in result.output
    assert "No matching" in run("search", 'NEAR( "*').output


def test_search_does_not_count_as_use(db: Path) -> None:
    run("search", "flight")
    with MemoryStore(db) as store:
        assert all(e.uses == 0 for e in store.list())


def test_export_import_round_trip(db: Path, tmp_path: Path) -> None:
    out = tmp_path / "backup.json"
    result = run("export", str(out))
    assert result.exit_code == 0, result.output
    assert "Exported 2 guidelines and 2 expertise entries" in result.stderr
    doc = json.loads(out.read_text())
    assert json.loads(run("export").stdout) == doc
    fresh = tmp_path / "fresh.db"
    result = run("--db", str(fresh), "import", str(out))
    assert result.exit_code == 0, result.output
    assert "guidelines: 2 added, 0 merged; expertise: 2 added, 0 merged" in result.output
    result = run("--db", str(fresh), "import", str(out), "--json")
    assert json.loads(result.stdout)["guidelines"] == {"added": 0, "merged": 2, "evicted": 0}
    result = run("--db", str(fresh), "import", "-", input=out.read_text())
    assert result.exit_code == 0


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json {", "is not valid JSON"),
        ('{"format": "steward-memory", "version": 1, "guidelines": [{}]}', "guidelines.0"),
        ('{"format": "other"}', "not a Steward memory document"),
        ("[1, 2]", "expected a JSON object"),
    ],
)
def test_bad_import_is_one_line_exit_2_and_changes_nothing(
    db: Path, tmp_path: Path, content: str, message: str
) -> None:
    before = run("export").stdout
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    result = run("import", str(bad))
    assert result.exit_code == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stderr.startswith("Error: ")
    assert message in result.stderr
    assert run("export").stdout == before


def test_import_missing_file(db: Path, tmp_path: Path) -> None:
    result = run("import", str(tmp_path / "nope.json"))
    assert result.exit_code == 2
    assert "cannot read" in result.stderr


def test_prune(db: Path) -> None:
    result = run("prune")
    assert result.exit_code == 2
    assert "give at least one of" in result.output
    result = run("prune", "--min-successes", "1", "--json")
    assert json.loads(result.stdout) == {"deleted": {"guideline": 0, "expertise": 0}}
    result = run("prune", "--keep", "1", "--kind", "expertise")
    assert result.exit_code == 0
    assert "Deleted 1 expertise entries." in result.output


def test_clear_asks_for_confirmation(db: Path) -> None:
    result = run("clear", input="n\n")
    assert result.exit_code == 1
    assert len(json.loads(run("list", "--json").stdout)) == 4
    result = run("clear", "--kind", "guideline", input="y\n")
    assert result.exit_code == 0
    assert "Deleted 2 guideline entries." in result.output
    result = run("clear", "--yes")
    assert result.exit_code == 0
    assert json.loads(run("list", "--json").stdout) == []


def test_stats_and_delete(db: Path) -> None:
    stats = json.loads(run("stats", "--json").stdout)
    assert stats["expertise"]["by_token"] == {"<app:message>": 1, "<app:twitter>": 1}
    assert "guidelines: 2 entries" in run("stats").output
    assert run("delete", "guideline", "1").exit_code == 0
    assert run("delete", "guideline", "1").exit_code == 2


def test_corrupt_db_is_a_clean_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"garbage" * 100)
    result = run("--db", str(bad), "list")
    assert result.exit_code == 2
    assert "not a readable sqlite database" in result.stderr
    assert bad.read_bytes() == b"garbage" * 100


def test_export_to_unwritable_path(db: Path, tmp_path: Path) -> None:
    result = run("export", str(tmp_path / "missing" / "dir" / "out.json"))
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: cannot write")
