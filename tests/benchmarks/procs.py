"""What the processes of this machine are doing, read from Linux's ``/proc``: who descends from
whom, which TCP sockets they listen on, and which carry a marker in their environment (to find
what a test started after its parent is gone)."""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path

import pytest

PROC = Path("/proc")
_LISTEN = "0A"  # the TCP state in /proc/net/tcp

needs_proc = pytest.mark.skipif(not (PROC / "net" / "tcp").exists(), reason="reads Linux's /proc")


def _pids() -> list[int]:
    return [int(p.name) for p in PROC.iterdir() if p.name.isdigit()]


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:  # the process ended, or is not ours
        return b""


def name(pid: int) -> str:
    """The process's command name (``gcs_server``, ``raylet``, ``ray::IDLE``...)."""
    return _read(PROC / str(pid) / "comm").decode(errors="replace").strip()


def descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (children, their children...)."""
    children: dict[int, list[int]] = {}
    for child in _pids():
        stat = _read(PROC / str(child) / "stat").decode(errors="replace")
        if stat:
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(parent, []).append(child)
    out: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in out:
                out.add(child)
                todo.append(child)
    return out


def _address(hex_address: str) -> str:
    """``0100007F`` (IPv4) or 32 hex digits (IPv6), in /proc/net's byte order, as text."""
    raw = bytes.fromhex(hex_address)
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    address = ipaddress.ip_address(words)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)


def listening(pids: set[int]) -> list[tuple[str, str, int]]:
    """The TCP sockets ``pids`` listen on: (process name, address, port)."""
    owner: dict[str, int] = {}
    for pid in pids:
        fds = PROC / str(pid) / "fd"
        try:
            links = [os.readlink(fd) for fd in fds.iterdir()]
        except OSError:
            continue
        for link in links:
            if link.startswith("socket:["):
                owner[link[8:-1]] = pid
    out = []
    for table in ("tcp", "tcp6"):
        rows = _read(PROC / "net" / table).decode().splitlines()[1:]
        for row in rows:
            fields = row.split()
            if fields[3] == _LISTEN and fields[9] in owner:
                host, port = fields[1].split(":")
                out.append((name(owner[fields[9]]), _address(host), int(port, 16)))
    return out


def marked(marker: str) -> list[int]:
    """The processes whose environment holds ``marker`` (their parent passed it down)."""
    needle = marker.encode()
    return [pid for pid in _pids() if needle in _read(PROC / str(pid) / "environ")]
