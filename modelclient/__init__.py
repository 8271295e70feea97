"""The model client: one OpenAI-compatible async client, structured output, usage records.

Public surface (import from here, not from the submodules):

- the interface: ``Model``, ``ChatMessage``, ``Completion``, ``prompt_overhead`` (room a
  model's structured output takes in the prompt);
- configuration: ``EndpointConfig`` (one base URL, or replicas in ``base_urls``),
  ``RoleOverride``, ``ModelsConfig``, ``load_models_config``;
- the real client: ``OpenAIModel``, ``ModelPool``, ``ProbeResult`` (+ ``load_probe``),
  ``PromptTooLongError`` (the prompt exceeds the context window), ``ReplicasUnreachableError``
  (no replica of an endpoint answers);
- replicas: ``Balancer`` (fewest requests in flight, cool-down of failing replicas) and its
  ``ReplicaStats``; ``read_live`` (the counters running processes publish);
- test doubles: ``ScriptedModel``, ``FunctionModel``, ``StubServer``, ``block_network``;
- canned answers: ``ScriptModel`` (``--model script:FILE``: ``load_script``, ``ScriptError``,
  ``ScriptRanOutError``) and ``ReplayModel`` (a recorded run's answers, ``steward replay``;
  ``ReplayExhaustedError``);
- helpers: ``extract_json``, ``validate``, ``schema_prompt``.
"""

from modelclient.balance import Balancer, ReplicaStats, read_live
from modelclient.base import ChatMessage, Completion, Model, prompt_overhead
from modelclient.config import (
    EndpointConfig,
    ModelsConfig,
    RoleOverride,
    StructuredMode,
    load_models_config,
)
from modelclient.engine import Tracer
from modelclient.openai_model import OpenAIModel
from modelclient.pool import ModelPool
from modelclient.probe import ProbeResult, load_probe, load_probes, probes_path, save_probe
from modelclient.replay import ReplayExhaustedError, ReplayModel
from modelclient.script import ScriptError, ScriptModel, ScriptRanOutError, load_script
from modelclient.structured import JSONExtractError, extract_json, schema_prompt, validate
from modelclient.stub import StubServer
from modelclient.testing import (
    FunctionModel,
    ModelCall,
    NetworkBlockedError,
    ScriptedModel,
    ScriptExhaustedError,
    block_network,
)
from modelclient.transport import PromptTooLongError, ReplicasUnreachableError

__all__ = [
    "Balancer",
    "ChatMessage",
    "Completion",
    "EndpointConfig",
    "FunctionModel",
    "JSONExtractError",
    "Model",
    "ModelCall",
    "ModelPool",
    "ModelsConfig",
    "NetworkBlockedError",
    "OpenAIModel",
    "ProbeResult",
    "PromptTooLongError",
    "ReplayExhaustedError",
    "ReplayModel",
    "ReplicaStats",
    "ReplicasUnreachableError",
    "RoleOverride",
    "ScriptError",
    "ScriptExhaustedError",
    "ScriptModel",
    "ScriptRanOutError",
    "ScriptedModel",
    "StructuredMode",
    "StubServer",
    "Tracer",
    "block_network",
    "extract_json",
    "load_models_config",
    "load_probe",
    "load_probes",
    "load_script",
    "probes_path",
    "prompt_overhead",
    "read_live",
    "save_probe",
    "schema_prompt",
    "validate",
]
