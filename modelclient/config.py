"""Endpoint configuration: one default endpoint plus per-role overrides, loaded from TOML.

File layout (``config.toml``)::

    [model]                       # the default endpoint
    base_url = "http://127.0.0.1:8321/v1"
    model = "smollm2-135m-instruct"

    [roles."<app:messaging>"]     # an override for one task token (or "steward")
    model = "messaging-lora"

    [roles.steward]               # replicas of one served model (see ``base_urls``)
    base_urls = ["http://gpu1:8000/v1", "http://gpu2:8000/v1"]

Precedence, lowest first: built-in defaults < file < ``STEWARD_BASE_URL`` / ``STEWARD_MODEL`` /
``STEWARD_API_KEY`` < explicit arguments; a base URL given by the environment or an argument may
be a comma-separated list of replicas. Other top-level tables belong to other components and
are ignored here.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from core.errors import ConfigError
from core.paths import data_dir
from modelclient.endpoint import (
    DEFAULT_BASE_URL,
    EndpointConfig,
    PromptStyle,
    RoleOverride,
    StructuredMode,
    StructuredSetting,
    merge_fields,
)

__all__ = [
    "DEFAULT_BASE_URL",
    "EndpointConfig",
    "ModelsConfig",
    "PromptStyle",
    "RoleOverride",
    "StructuredMode",
    "StructuredSetting",
    "load_models_config",
    "merge_fields",
    "url_fields",
]

_ENV_OVERRIDES = {
    "STEWARD_BASE_URL": "base_url",
    "STEWARD_MODEL": "model",
    "STEWARD_API_KEY": "api_key",
}


class ModelsConfig(BaseModel):
    """The default endpoint and the per-role overrides."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    default: EndpointConfig = Field(default_factory=EndpointConfig)
    """Endpoint used by every role without an override."""
    roles: dict[str, RoleOverride] = Field(default_factory=dict)
    """Overrides keyed by role: ``steward`` or a task token such as ``<app:messaging>``."""

    @model_validator(mode="after")
    def _check_roles(self) -> ModelsConfig:
        for role in self.roles:
            self._merge(role)  # raises ValueError for an override that makes a bad endpoint
        return self

    def resolve(self, role: str) -> EndpointConfig:
        """The endpoint for ``role``: its override (if any) merged over the default."""
        return self._merge(role)

    def _merge(self, role: str) -> EndpointConfig:
        override = self.roles.get(role)
        if override is None:
            return self.default
        fields = override.model_dump(exclude_unset=True)
        # None in an override means "inherit", except for seed, where None is a real value.
        update = {k: v for k, v in fields.items() if v is not None or k == "seed"}
        if not update:
            return self.default
        try:
            return EndpointConfig.model_validate(merge_fields(self.default.model_dump(), update))
        except ValidationError as exc:
            raise ValueError(f"role {role!r}: {_first_error(exc)}") from None

    def with_default(self, **fields: Any) -> ModelsConfig:
        """A copy whose default endpoint has ``fields`` replaced (validated)."""
        try:
            default = EndpointConfig.model_validate(merge_fields(self.default.model_dump(), fields))
            return ModelsConfig(default=default, roles=dict(self.roles))
        except ValidationError as exc:
            raise ConfigError(f"default endpoint: {_first_error(exc)}") from None


def _first_error(exc: ValidationError) -> str:
    errors = exc.errors()
    first = errors[0]
    loc = ".".join(str(part) for part in first["loc"])
    msg = str(first["msg"]).removeprefix("Value error, ")
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{loc}: {msg}{more}" if loc else f"{msg}{more}"


def _config_file(path: Path | None) -> Path | None:
    if path is not None:
        if not path.is_file():
            raise ConfigError(f"config file {path} not found")
        return path
    env = os.environ.get("STEWARD_CONFIG")
    if env:
        env_path = Path(env).expanduser()
        if not env_path.is_file():
            raise ConfigError(f"config file {env_path} (from $STEWARD_CONFIG) not found")
        return env_path
    default = data_dir() / "config.toml"
    return default if default.is_file() else None


def _read_file(path: Path) -> ModelsConfig:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    data: dict[str, Any] = {}
    if "model" in raw:
        data["default"] = raw["model"]
    if "roles" in raw:
        data["roles"] = raw["roles"]
    try:
        return ModelsConfig.model_validate(data)
    except ValidationError as exc:
        msg = _first_error(exc).replace("default.", "[model] ", 1).replace("roles.", "[roles] ", 1)
        raise ConfigError(f"{path}: {msg}") from None


def load_models_config(
    path: Path | None = None,
    *,
    base_url: str | None = None,
    model: str | None = None,
) -> ModelsConfig:
    """Load the models config: file < environment < arguments.

    The file is ``path``, else ``$STEWARD_CONFIG``, else ``data_dir()/config.toml`` if it
    exists (no file means built-in defaults). ``base_url`` (like ``$STEWARD_BASE_URL``) may be
    a comma-separated list of replicas. Raises ``core.ConfigError`` naming the file and the
    problem.
    """
    file = _config_file(path)
    config = _read_file(file) if file is not None else ModelsConfig()
    env = {field: os.environ[var] for var, field in _ENV_OVERRIDES.items() if os.environ.get(var)}
    env.update(url_fields(env.pop("base_url", None)))
    if env:
        try:
            config = config.with_default(**env)
        except ConfigError as exc:
            raise ConfigError(f"environment: {exc}") from None
    args: dict[str, Any] = {"model": model} if model is not None else {}
    args.update(url_fields(base_url))
    if args:
        config = config.with_default(**args)
    return config


def url_fields(value: str | None) -> dict[str, Any]:
    """The endpoint fields of a base URL given as text: ``base_url`` for one, ``base_urls``
    for a comma-separated list of replicas, nothing for ``None``."""
    if value is None:
        return {}
    urls = [part.strip() for part in value.split(",") if part.strip()]
    return {"base_urls": urls} if len(urls) > 1 else {"base_url": value}
