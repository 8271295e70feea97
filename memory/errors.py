"""Errors of the memory store; all are user errors whose message says what to do."""

from __future__ import annotations

from core.errors import UserError


class MemoryStoreError(UserError):
    """The memory database cannot be used: corrupt, written by a newer Steward, or too busy."""


class EntryNotFoundError(MemoryStoreError):
    """No entry of that kind has that id."""


class MemoryImportError(MemoryStoreError):
    """An import document is not valid JSON or not a valid Steward memory document."""
