"""Config: defaults, role overrides, and file < env < args precedence."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import ConfigError
from core.paths import data_dir
from modelclient import EndpointConfig, ModelsConfig, RoleOverride, load_models_config

FILE = """
[model]
base_url = "http://file:1/v1/"
model = "file-model"
temperature = 0.3

[roles.steward]
max_tokens = 64

[roles."<app:messaging>"]
model = "messaging-lora"

[serve]
port = 9999   # another component's table: ignored here
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def test_defaults() -> None:
    cfg = load_models_config()
    assert cfg.default == EndpointConfig()
    assert cfg.default.base_url == "http://127.0.0.1:8321/v1"
    assert cfg.default.model == "smollm2-135m-instruct"
    assert cfg.roles == {}


def test_file_then_env_then_args(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, FILE)
    cfg = load_models_config(path)
    assert cfg.default.base_url == "http://file:1/v1"
    assert cfg.default.model == "file-model"
    assert cfg.default.temperature == 0.3

    monkeypatch.setenv("STEWARD_BASE_URL", "http://env:2/v1")
    monkeypatch.setenv("STEWARD_MODEL", "env-model")
    monkeypatch.setenv("STEWARD_API_KEY", "sk-env")
    cfg = load_models_config(path)
    assert (cfg.default.base_url, cfg.default.model, cfg.default.api_key) == (
        "http://env:2/v1",
        "env-model",
        "sk-env",
    )
    assert cfg.default.temperature == 0.3

    cfg = load_models_config(path, base_url="http://arg:3/v1", model="arg-model")
    assert (cfg.default.base_url, cfg.default.model, cfg.default.api_key) == (
        "http://arg:3/v1",
        "arg-model",
        "sk-env",
    )


def test_roles_merge_over_default(tmp_path: Path) -> None:
    cfg = load_models_config(write(tmp_path, FILE), model="arg-model")
    steward = cfg.resolve("steward")
    assert steward.max_tokens == 64
    assert steward.model == "arg-model"
    messaging = cfg.resolve("<app:messaging>")
    assert messaging.model == "messaging-lora"
    assert messaging.temperature == 0.3
    assert messaging.max_tokens == EndpointConfig().max_tokens
    assert cfg.resolve("<app:unknown>") == cfg.default


def test_env_file_and_data_dir_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (data_dir() / "config.toml").write_text('[model]\nmodel = "from-data-dir"\n')
    assert load_models_config().default.model == "from-data-dir"
    other = tmp_path / "other.toml"
    other.write_text('[model]\nmodel = "from-env-path"\n')
    monkeypatch.setenv("STEWARD_CONFIG", str(other))
    assert load_models_config().default.model == "from-env-path"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[model\nx=1", "invalid TOML"),
        ("[model]\ntemperture = 0.1\n", "[model] temperture: Extra inputs are not permitted"),
        ("[model]\nmax_tokens = 0\n", "[model] max_tokens"),
        ("[model]\nbase_url = 'localhost:8000'\n", "base_url must start with http"),
        ('[roles."<app:x>"]\nfoo = 1\n', "<app:x>.foo"),
        ("[roles.steward]\ntemperature = -1.0\n", "role 'steward': temperature"),
        ("[model]\nstructured = 'grammar'\n", "[model] structured"),
    ],
)
def test_config_errors_name_file_and_problem(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_models_config(path)
    message = str(info.value)
    assert str(path) in message
    assert expected in message
    assert "\n" not in message


def test_missing_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_models_config(tmp_path / "nope.toml")
    monkeypatch.setenv("STEWARD_CONFIG", str(tmp_path / "gone.toml"))
    with pytest.raises(ConfigError, match=r"STEWARD_CONFIG"):
        load_models_config()


def test_bad_env_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STEWARD_BASE_URL", "ftp://x")
    with pytest.raises(ConfigError, match="environment"):
        load_models_config()


def test_role_override_mirrors_endpoint_fields() -> None:
    assert set(RoleOverride.model_fields) == set(EndpointConfig.model_fields)
    for name, field in EndpointConfig.model_fields.items():
        assert field.description, f"EndpointConfig.{name} has no docstring"
        assert RoleOverride.model_fields[name].description, name


def test_endpoint_is_hashable_and_seed_can_be_reset() -> None:
    cfg = ModelsConfig(
        default=EndpointConfig(seed=7), roles={"a": RoleOverride(seed=None), "b": RoleOverride()}
    )
    assert cfg.resolve("a").seed is None
    assert cfg.resolve("b").seed == 7
    assert len({cfg.default, EndpointConfig(seed=7)}) == 1
