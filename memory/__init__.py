"""Memory-based self-evolution: task guidelines and staff expertise learned from successes.

The steward stores, after a verified success, the instruction and the scheduling graph that
worked (:class:`GuidelineEntry`); each staff agent stores tips and a reusable action sequence
for its app (:class:`ExpertiseEntry`). Both are searched (SQLite FTS5, BM25; optionally
sentence embeddings, see :mod:`memory.embedding`) for later, similar work. This package
imports nothing of ours except ``core``.
"""

from memory.db import ENV_DB, default_path
from memory.embedding import ENV_RETRIEVAL, RETRIEVALS, EmbeddingUnavailableError, Retrieval
from memory.errors import EntryNotFoundError, MemoryImportError, MemoryStoreError
from memory.exchange import FORMAT, VERSION, validate_document
from memory.migrations import SCHEMA_VERSION
from memory.models import (
    KINDS,
    Action,
    Entry,
    ExpertiseEntry,
    GuidelineEntry,
    Kind,
    MemoryDocument,
    Provenance,
    Retrieved,
    kind_of,
)
from memory.protocol import Memory
from memory.retrieval import (
    format_expertise,
    format_graph,
    format_guidelines,
    retrieve_expertise,
    retrieve_guidelines,
)
from memory.store import MemoryStore

__all__ = [
    "ENV_DB",
    "ENV_RETRIEVAL",
    "FORMAT",
    "KINDS",
    "RETRIEVALS",
    "SCHEMA_VERSION",
    "VERSION",
    "Action",
    "EmbeddingUnavailableError",
    "Entry",
    "EntryNotFoundError",
    "ExpertiseEntry",
    "GuidelineEntry",
    "Kind",
    "Memory",
    "MemoryDocument",
    "MemoryImportError",
    "MemoryStore",
    "MemoryStoreError",
    "Provenance",
    "Retrieval",
    "Retrieved",
    "default_path",
    "format_expertise",
    "format_graph",
    "format_guidelines",
    "kind_of",
    "retrieve_expertise",
    "retrieve_guidelines",
    "validate_document",
]
