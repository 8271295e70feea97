"""``steward show RUN_ID --html [FILE]``: one self-contained HTML file per run."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.main import cli as steward
from tests.viewer.demo import HOSTILE


def tags(text: str) -> list[str]:
    return re.findall(r"<(?:script|link|img|iframe|object|embed|style)\b[^>]*>", text)


def test_the_file_is_self_contained_and_holds_the_run(
    demo: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(steward, ["show", demo[:6], "--html"])
    assert result.exit_code == 0, result.output
    path = tmp_path / f"{demo}.html"
    assert f"wrote {path.name}" in result.output
    text = path.read_text()
    # only the page's own elements: two scripts, one data block, styles, a data: icon
    found = tags(text)
    assert len(found) == 5, found
    assert '<link rel="icon" href="data:,">' in found
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text)  # nothing to fetch
    assert "default-src 'none'" in text and "connect-src 'none'" in text
    assert HOSTILE not in text  # the tweet's HTML is in the data, escaped
    assert demo in text and "Bob is USR002, not USR009" in text


def test_a_file_name_can_be_given(demo: str, tmp_path: Path) -> None:
    target = tmp_path / "sub" / "out.html"
    result = CliRunner().invoke(steward, ["show", demo, "--html", str(target)])
    assert result.exit_code == 0, result.output
    assert target.read_text().startswith("<!DOCTYPE html>")


def test_a_missing_run_is_a_one_line_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(steward, ["show", "nosuchrun", "--html", str(tmp_path / "x")])
    assert result.exit_code == 2
    assert result.output.strip() == "Error: no run 'nosuchrun'; `steward runs` lists the runs"
    assert not (tmp_path / "x").exists()


def test_the_html_option_leaves_the_other_outputs_alone(demo: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(steward, ["show", demo[:8]])
    assert result.exit_code == 0, result.output
    assert demo in result.output and "<html" not in result.output
    assert not list(tmp_path.glob("*.html"))
