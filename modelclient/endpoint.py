"""One role's endpoint: where its model is served (one base URL, or several replicas) and how
to sample from it; and the override of those fields for one role."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

StructuredMode = Literal["json_schema", "json_object", "repair"]
"""A concrete way of getting JSON out of an endpoint, best first."""

StructuredSetting = Literal["auto", "json_schema", "json_object", "repair"]

PromptStyle = Literal["full", "compact"]
"""How much a role's prompt explains (see ``EndpointConfig.prompt_style``)."""

DEFAULT_BASE_URL = "http://127.0.0.1:8321/v1"
"""The embedded server's base URL (``steward serve``)."""

_URL_FIELDS = ("base_url", "base_urls")


class EndpointConfig(BaseModel):
    """Where one role's model lives and how to sample from it. Immutable and hashable."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    base_url: str = DEFAULT_BASE_URL
    """OpenAI-compatible base URL, including the ``/v1`` suffix. With several replicas, the
    first of ``base_urls``."""
    base_urls: tuple[str, ...] = Field(default=(), min_length=1)
    """Replicas serving the same model, one base URL each: give ``base_urls = [...]`` instead
    of ``base_url``. Each request goes to the replica with the fewest requests in flight; one
    that fails (connection error, timeout, 5xx, 429) is put aside for ``cooldown_s`` and the
    request is retried on another, within ``max_retries``. Once loaded it always lists every
    replica (just ``base_url`` for one)."""
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
    """Requests in flight at once per base URL, so per replica (the first config seen for a URL
    sets it)."""
    max_retries: int = Field(default=3, ge=0)
    """Transport retries on connection errors, timeouts, 429, 5xx and empty answers."""
    backoff_s: float = Field(default=0.5, ge=0.0)
    """First retry delay; doubles each retry, with jitter."""
    cooldown_s: float = Field(default=5.0, gt=0.0)
    """Seconds a replica that failed is put aside (doubling with each failure in a row, up to
    60 s); only matters with several ``base_urls``."""
    structured: StructuredSetting = "auto"
    """How to get JSON: ``auto`` probes the endpoint (the replica set) once, or force one
    mode."""
    max_reasks: int = Field(default=2, ge=0)
    """Re-asks when the output does not parse or validate under the schema."""
    record_prompts: bool = True
    """Keep the messages sent in each call record."""
    prompt_style: PromptStyle = "full"
    """``full`` prompts teach the model its role (tool documentation, notes, an example);
    ``compact`` ones leave out what a trained expert already knows (a LoRA adapter trained on
    this role), while decoding stays constrained by the same schemas."""

    @model_validator(mode="before")
    @classmethod
    def _fill_urls(cls, data: Any) -> Any:
        """``base_url`` alone is a set of one replica; ``base_urls`` alone starts with its
        ``base_url``."""
        if not isinstance(data, dict):
            return data
        url, urls = _one_url(data.get("base_url")), data.get("base_urls")
        if urls is None:
            return {**data, "base_urls": [DEFAULT_BASE_URL if url is None else url]}
        if url is None and isinstance(urls, list | tuple) and urls:
            return {**data, "base_url": urls[0]}
        return data

    @field_validator("base_url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        return _normal_url(value, "base_url")

    @field_validator("base_urls")
    @classmethod
    def _check_urls(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        urls = tuple(_normal_url(url, "base_urls") for url in value)
        twice = sorted({url for url in urls if urls.count(url) > 1})
        if twice:
            raise ValueError(f"base_urls lists {', '.join(twice)} more than once")
        return urls

    @model_validator(mode="after")
    def _check_first(self) -> EndpointConfig:
        if self.base_url != self.base_urls[0]:
            raise ValueError(
                "give base_url or base_urls, not both (or base_url as the first of base_urls)"
            )
        return self


def _one_url(value: Any) -> Any:
    if isinstance(value, list | tuple):
        raise ValueError("base_url takes one URL; list replicas as base_urls = [...]")
    return value


def _normal_url(value: str, name: str) -> str:
    value = value.strip().rstrip("/")
    if not value.startswith(("http://", "https://")):
        raise ValueError(f"{name} must start with http:// or https://, got {value!r}")
    return value


def merge_fields(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """Endpoint fields ``base`` with ``update`` over them. A base URL in ``update`` replaces
    the whole replica set of ``base`` (but naming the set's first URL again keeps the set)."""
    out = {**base, **update}
    if not any(key in update for key in _URL_FIELDS):
        return out
    if "base_urls" not in update:
        same = str(update["base_url"]).strip().rstrip("/") == base.get("base_url")
        if not same:
            out.pop("base_urls", None)
    elif "base_url" not in update:
        out.pop("base_url", None)
    return out


class RoleOverride(BaseModel):
    """Fields that replace the default endpoint's for one role; unset fields inherit."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    base_url: str | None = None
    """Overrides ``EndpointConfig.base_url`` (one replica)."""
    base_urls: list[str] | None = None
    """Overrides ``EndpointConfig.base_urls`` (replicas of this role's model)."""
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
    cooldown_s: float | None = None
    """Overrides ``EndpointConfig.cooldown_s``."""
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

    @field_validator("base_url", mode="before")
    @classmethod
    def _check_one_url(cls, value: Any) -> Any:
        return _one_url(value)
