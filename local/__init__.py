"""The local model: the embedded vLLM CPU server's lifecycle, its LoRA adapters, and the
training environment and jobs that make them.

``modelclient`` is the client for any OpenAI-compatible endpoint; this package is what runs
one on this machine. It imports nothing of ours but ``core`` and the model client's config.

- ``ServerSettings`` / ``start_server`` / ``stop_server`` / ``server_status`` /
  ``ensure_running`` / ``embedded_base_url`` / ``running_server``: the server (``steward serve``);
- ``EmbeddedServerError``: installing, converting, starting or stopping it failed;
- ``AdapterManifest`` / ``InstalledAdapter`` / ``list_adapters`` / ``install_adapter`` /
  ``uninstall_adapter`` / ``adapter_name``: trained experts (LoRA adapters) installed under
  ``ServerSettings.adapters_dir``; ``AdapterError``: a broken or unfit adapter;
- ``install_expert`` / ``uninstall_expert`` (the same, for a server's settings),
  ``installed_adapters`` / ``expert_routes``: which installed adapters the server serves, and
  which role each routes to.
- ``TrainJob`` / ``LoraSettings`` / ``run_job`` -> ``TrainResult`` (with ``TrainProgress`` lines):
  train an adapter in the training environment (``ensure_train_env`` / ``find_train_env`` ->
  ``TrainEnv``); ``TrainJobError`` / ``TrainSettingsError`` / ``TrainBusyError`` /
  ``TrainError`` / ``TrainEnvError``: what can go wrong.
"""

from local.adapters import (
    AdapterError,
    AdapterManifest,
    InstalledAdapter,
    adapter_name,
    install_adapter,
    list_adapters,
    uninstall_adapter,
)
from local.experts import (
    AdapterSet,
    Routing,
    expert_routes,
    install_expert,
    installed_adapters,
    uninstall_expert,
)
from local.server import (
    embedded_base_url,
    ensure_running,
    read_probe,
    running_server,
    server_status,
    start_server,
    stop_server,
)
from local.settings import (
    EmbeddedServerError,
    ServerInfo,
    ServerSettings,
    ServerStatus,
    no_progress,
)
from local.trainenv import TrainEnv, TrainEnvError, ensure_train_env, find_train_env
from local.trainjob import (
    LoraSettings,
    TrainJob,
    TrainJobError,
    TrainProgress,
    TrainResult,
)
from local.trainrun import TrainBusyError, TrainError, TrainSettingsError, run_job

__all__ = [
    "AdapterError",
    "AdapterManifest",
    "AdapterSet",
    "EmbeddedServerError",
    "InstalledAdapter",
    "LoraSettings",
    "Routing",
    "ServerInfo",
    "ServerSettings",
    "ServerStatus",
    "TrainBusyError",
    "TrainEnv",
    "TrainEnvError",
    "TrainError",
    "TrainJob",
    "TrainJobError",
    "TrainProgress",
    "TrainResult",
    "TrainSettingsError",
    "adapter_name",
    "embedded_base_url",
    "ensure_running",
    "ensure_train_env",
    "expert_routes",
    "find_train_env",
    "install_adapter",
    "install_expert",
    "installed_adapters",
    "list_adapters",
    "no_progress",
    "read_probe",
    "run_job",
    "running_server",
    "server_status",
    "start_server",
    "stop_server",
    "uninstall_adapter",
    "uninstall_expert",
]
