"""The Ray cluster of a sharded benchmark: Ray imported on demand, a local cluster started (on
127.0.0.1 only) or a running one joined, and the one-line errors for Ray missing or an address
no cluster answers on (Ray itself would wait minutes)."""

from __future__ import annotations

import logging
import socket
from typing import TYPE_CHECKING, Any

from core.errors import UserError

if TYPE_CHECKING:
    from benchmarks.bfcl.ray_shard import RayOptions

RAY_REQUIREMENT = "ray==2.60.0"
LOCAL = "local"
"""The address shown for a Ray cluster started by this process."""


def import_ray() -> Any:
    """The ``ray`` module, or a ``UserError`` saying how to install it."""
    try:
        import ray
    except ImportError:
        raise UserError(
            f'--ray needs Ray: pip install "steward[ray]" (or "{RAY_REQUIREMENT}")'
        ) from None
    return ray


def check_address(address: str) -> None:
    """A one-line ``UserError`` for an address no cluster answers on (Ray itself would wait
    minutes), or a Ray Client address without the client installed."""
    if address == "auto":
        return  # Ray answers at once when none is running
    target = address
    if address.startswith("ray://"):
        try:
            import grpc  # noqa: F401  (Ray Client's transport)
        except ImportError:
            raise UserError(
                f'--ray {address} is a Ray Client address: pip install "ray[client]==2.60.0", '
                "or run on a node of the cluster with --ray auto"
            ) from None
        target = address.removeprefix("ray://")
    host, _, port = target.rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=5):
            pass
    except (OSError, ValueError) as exc:
        raise UserError(
            f"no Ray cluster answers at {address} ({exc}); start one with `ray start --head`, "
            "or give --ray without an address for a local one"
        ) from None


def connect(ray: Any, options: RayOptions, workers: int) -> bool:
    """Start a local cluster with ``workers`` CPUs, or join ``options.address``; ``True`` when
    this call started or joined it (so the run shuts it down), ``False`` when Ray was already
    initialised in this process."""
    if options.address is not None:
        check_address(options.address)
    if ray.is_initialized():
        return False
    settings: dict[str, Any] = {
        "include_dashboard": False,
        "log_to_driver": False,
        "logging_level": logging.WARNING,
        "configure_logging": False,
    }
    if options.address is None:
        start_local(ray, workers, **settings)
        return True
    try:
        ray.init(address=options.address, **settings)
    except (ConnectionError, ValueError, RuntimeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(f"cannot join the Ray cluster at {options.address}: {first}") from None
    return True


def start_local(ray: Any, workers: int, **settings: Any) -> None:
    """Start a one-node Ray cluster with ``workers`` CPUs whose processes (GCS, raylet, workers,
    agents) listen on 127.0.0.1 only: no other node joins a cluster a run owns.

    Ray 2.60 listens on the address it takes for the node's, and ``ray.init`` turns a loopback
    address given as ``_node_ip_address`` into the outward one; its own single-node mode (the
    default on macOS and Windows, ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``) takes 127.0.0.1. That
    switch is read when the cluster starts, so it is set only for this call."""
    constants = ray._private.ray_constants
    multi_node = constants.ENABLE_RAY_CLUSTER
    constants.ENABLE_RAY_CLUSTER = False
    try:
        ray.init(address=LOCAL, num_cpus=workers, **settings)
    finally:
        constants.ENABLE_RAY_CLUSTER = multi_node
