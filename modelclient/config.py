"""Endpoint configuration: one default endpoint plus per-role overrides, loaded from TOML.

File layout (``config.toml``)::

    [model]                       # the default endpoint
    base_url = "http://127.0.0.1:8321/v1"
    model = "smollm2-135m-instruct"

    [roles."<app:messaging>"]     # an override for one task token (or "steward")
    model = "messaging-lora"

Precedence, lowest first: built-in defaults < file < ``STEWARD_BASE_URL`` / ``STEWARD_MODEL`` /
``STEWARD_API_KEY`` < explicit arguments. Other top-level tables belong to other components and
are ignored here.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from core.errors import ConfigError
from core.paths import data_dir

StructuredMode = Literal["json_schema", "json_object", "repair"]
"""A concrete way of getting JSON out of an endpoint, best first."""

StructuredSetting = Literal["auto", "json_schema", "json_object", "repair"]

PromptStyle = Literal["full", "compact"]
"""How much a role's prompt explains (see ``EndpointConfig.prompt_style``)."""

_ENV_OVERRIDES = {
    "STEWARD_BASE_URL": "base_url",
    "STEWARD_MODEL": "model",
    "STEWARD_API_KEY": "api_key",
}


class EndpointConfig(BaseModel):
    """Where one role's model lives and how to sample from it. Immutable and hashable."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    base_url: str = "http://127.0.0.1:8321/v1"
    """OpenAI-compatible base URL, including the ``/v1`` suffix."""
    model: str = "smollm2-135m-instruct"
    """Served model name (a vLLM ``--served-model-name`` alias or a LoRA adapter name)."""
    api_key: str = "EMPTY"
    """API key sent as a bearer token; local vLLM accepts any value."""
    temperature: float = Field(default=0.0, ge=0.0)
    """Sampling temperature; 0 means greedy."""
    top_p: float = Field(default=1.0, gt=0.0, le=1.0)
    """Nucleus sampling mass."""
    max_tokens: int = Field(default=384, ge=1)
    """Upper bound on completion tokens per request."""
    seed: int | None = None
    """Sampling seed, if the server supports one."""
    frequency_penalty: float | None = Field(default=None, ge=-2.0, le=2.0)
    """OpenAI frequency penalty: lowers a token's odds by how often the answer already used it
    (a small value, e.g. 0.3, keeps small models from looping inside a string). ``None``: not
    sent (the server's default, 0), except on the embedded server, where Steward uses 0.3."""
    timeout_s: float = Field(default=120.0, gt=0.0)
    """Seconds to wait for one request before it counts as timed out."""
    max_concurrency: int = Field(default=8, ge=1)
    """Requests in flight at once per base URL (the first config seen for a URL sets it)."""
    max_retries: int = Field(default=3, ge=0)
    """Transport retries on connection errors, timeouts, 429, 5xx and empty answers."""
    backoff_s: float = Field(default=0.5, ge=0.0)
    """First retry delay; doubles each retry, with jitter."""
    structured: StructuredSetting = "auto"
    """How to get JSON: ``auto`` probes the endpoint once, or force one mode."""
    max_reasks: int = Field(default=2, ge=0)
    """Re-asks when the output does not parse or validate under the schema."""
    record_prompts: bool = True
    """Keep the messages sent in each call record."""
    prompt_style: PromptStyle = "full"
    """``full`` prompts teach the model its role (tool documentation, notes, an example);
    ``compact`` ones leave out what a trained expert already knows (a LoRA adapter trained on
    this role), while decoding stays constrained by the same schemas."""

    @field_validator("base_url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"base_url must start with http:// or https://, got {value!r}")
        return value


class RoleOverride(BaseModel):
    """Fields that replace the default endpoint's for one role; unset fields inherit."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    base_url: str | None = None
    """Overrides ``EndpointConfig.base_url``."""
    model: str | None = None
    """Overrides ``EndpointConfig.model`` (e.g. a LoRA adapter for this task token)."""
    api_key: str | None = None
    """Overrides ``EndpointConfig.api_key``."""
    temperature: float | None = None
    """Overrides ``EndpointConfig.temperature``."""
    top_p: float | None = None
    """Overrides ``EndpointConfig.top_p``."""
    max_tokens: int | None = None
    """Overrides ``EndpointConfig.max_tokens``."""
    seed: int | None = None
    """Overrides ``EndpointConfig.seed``."""
    frequency_penalty: float | None = Field(default=None, ge=-2.0, le=2.0)
    """Overrides ``EndpointConfig.frequency_penalty``."""
    timeout_s: float | None = None
    """Overrides ``EndpointConfig.timeout_s``."""
    max_concurrency: int | None = None
    """Overrides ``EndpointConfig.max_concurrency``."""
    max_retries: int | None = None
    """Overrides ``EndpointConfig.max_retries``."""
    backoff_s: float | None = None
    """Overrides ``EndpointConfig.backoff_s``."""
    structured: StructuredSetting | None = None
    """Overrides ``EndpointConfig.structured``."""
    max_reasks: int | None = None
    """Overrides ``EndpointConfig.max_reasks``."""
    record_prompts: bool | None = None
    """Overrides ``EndpointConfig.record_prompts``."""
    prompt_style: PromptStyle | None = None
    """Overrides ``EndpointConfig.prompt_style`` (``compact`` for a trained expert)."""


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
            return EndpointConfig.model_validate({**self.default.model_dump(), **update})
        except ValidationError as exc:
            raise ValueError(f"role {role!r}: {_first_error(exc)}") from None

    def with_default(self, **fields: Any) -> ModelsConfig:
        """A copy whose default endpoint has ``fields`` replaced (validated)."""
        try:
            default = EndpointConfig.model_validate({**self.default.model_dump(), **fields})
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
    exists (no file means built-in defaults). Raises ``core.ConfigError`` naming the file and
    the problem.
    """
    file = _config_file(path)
    config = _read_file(file) if file is not None else ModelsConfig()
    env = {field: os.environ[var] for var, field in _ENV_OVERRIDES.items() if os.environ.get(var)}
    if env:
        try:
            config = config.with_default(**env)
        except ConfigError as exc:
            raise ConfigError(f"environment: {exc}") from None
    args = {k: v for k, v in (("base_url", base_url), ("model", model)) if v is not None}
    if args:
        config = config.with_default(**args)
    return config
