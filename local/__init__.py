"""The local model: the embedded vLLM CPU server's lifecycle, its LoRA adapters, and the
training environment and jobs that make them.

``modelclient`` is the client for any OpenAI-compatible endpoint; this package is what runs
one on this machine. It imports nothing of ours but ``core`` and the model client's config.

- ``ServerSettings`` / ``start_server`` / ``stop_server`` / ``server_status`` /
  ``ensure_running`` / ``embedded_base_url``: the server (``steward serve``);
- ``EmbeddedServerError``: installing, converting, starting or stopping it failed.
"""

from local.server import (
    embedded_base_url,
    ensure_running,
    read_probe,
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

__all__ = [
    "EmbeddedServerError",
    "ServerInfo",
    "ServerSettings",
    "ServerStatus",
    "embedded_base_url",
    "ensure_running",
    "no_progress",
    "read_probe",
    "server_status",
    "start_server",
    "stop_server",
]
