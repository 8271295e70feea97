"""Config of several endpoints per role: ``base_urls`` in ``[model]`` and ``[roles."X"]``,
``base_url`` kept as a set of one, comma lists from the environment and arguments."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import ConfigError
from modelclient import EndpointConfig, ModelsConfig, RoleOverride, load_models_config

FILE = """
[model]
base_urls = ["http://a:1/v1/", "http://b:1/v1"]
model = "served"

[roles.steward]
base_url = "http://planner:1/v1"

[roles."<app:messaging>"]
model = "messaging-lora"

[roles."<app:travel>"]
base_urls = ["http://t1:1/v1", "http://t2:1/v1", "http://t3:1/v1"]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def test_replicas_per_role_from_the_file(tmp_path: Path) -> None:
    cfg = load_models_config(write(tmp_path, FILE))
    assert cfg.default.base_urls == ("http://a:1/v1", "http://b:1/v1")
    assert cfg.default.base_url == "http://a:1/v1"  # the first replica, for code that shows one
    assert cfg.resolve("steward").base_urls == ("http://planner:1/v1",)
    assert cfg.resolve("<app:messaging>").base_urls == cfg.default.base_urls  # inherited
    assert cfg.resolve("<app:messaging>").model == "messaging-lora"
    assert cfg.resolve("<app:travel>").base_urls == (
        "http://t1:1/v1",
        "http://t2:1/v1",
        "http://t3:1/v1",
    )


def test_one_base_url_is_a_set_of_one_and_round_trips() -> None:
    one = EndpointConfig(base_url="http://x:1/v1/")
    assert one.base_urls == ("http://x:1/v1",)
    assert EndpointConfig().base_urls == ("http://127.0.0.1:8321/v1",)
    many = EndpointConfig(base_urls=["http://a/v1", "http://b/v1"])
    assert EndpointConfig.model_validate(many.model_dump()) == many
    assert hash(many) != hash(one)
    # both given, consistently (what model_dump writes): accepted
    assert EndpointConfig(base_url="http://a/v1", base_urls=["http://a/v1", "http://b/v1"]) == many


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ("base_urls = []", "at least 1 item"),
        ('base_urls = ["http://a/v1", "http://a/v1/"]', "lists http://a/v1 more than once"),
        ('base_urls = ["http://a/v1", "ftp://b"]', "must start with http:// or https://"),
        ('base_url = ["http://a/v1", "http://b/v1"]', "list replicas as base_urls"),
        ('base_url = "http://c/v1"\nbase_urls = ["http://a/v1"]', "give base_url or base_urls"),
    ],
)
def test_bad_replica_lists_are_one_line_errors(tmp_path: Path, table: str, message: str) -> None:
    path = write(tmp_path, f"[model]\n{table}\n")
    with pytest.raises(ConfigError, match=message) as info:
        load_models_config(path)
    assert str(path) in str(info.value)
    assert "\n" not in str(info.value)


def test_a_bad_role_list_names_the_role(tmp_path: Path) -> None:
    path = write(tmp_path, '[roles.steward]\nbase_url = ["http://a/v1"]\n')
    with pytest.raises(ConfigError, match=r"steward.*list replicas as base_urls"):
        load_models_config(path)
    path = write(tmp_path, '[roles.steward]\nbase_urls = ["http://a/v1", "http://a/v1"]\n')
    with pytest.raises(ConfigError, match=r"role 'steward'.*more than once"):
        load_models_config(path)


def test_environment_and_arguments_take_comma_lists(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, FILE)
    monkeypatch.setenv("STEWARD_BASE_URL", "http://e1:1/v1, http://e2:1/v1")
    cfg = load_models_config(path)
    assert cfg.default.base_urls == ("http://e1:1/v1", "http://e2:1/v1")
    assert cfg.resolve("<app:travel>").base_urls[0] == "http://t1:1/v1"  # the role's own set
    cfg = load_models_config(path, base_url="http://arg:1/v1")
    assert cfg.default.base_urls == ("http://arg:1/v1",)  # one URL replaces the set


def test_naming_the_first_replica_again_keeps_the_set(tmp_path: Path) -> None:
    """A resumed run passes the saved base URL (the first replica): the set stays."""
    cfg = load_models_config(write(tmp_path, FILE), base_url="http://a:1/v1")
    assert cfg.default.base_urls == ("http://a:1/v1", "http://b:1/v1")
    assert cfg.with_default(base_url="http://b:1/v1").default.base_urls == ("http://b:1/v1",)


def test_a_role_url_replaces_the_default_set() -> None:
    cfg = ModelsConfig(
        default=EndpointConfig(base_urls=["http://a/v1", "http://b/v1"]),
        roles={
            "steward": RoleOverride(base_url="http://s/v1"),
            "<app:x>": RoleOverride(base_urls=["http://x1/v1", "http://x2/v1"]),
        },
    )
    assert cfg.resolve("steward").base_urls == ("http://s/v1",)
    assert cfg.resolve("<app:x>").base_url == "http://x1/v1"
    assert cfg.resolve("other").base_urls == ("http://a/v1", "http://b/v1")
