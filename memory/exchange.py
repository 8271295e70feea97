"""The export / import document: validation first, then one all-or-nothing transaction."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError
from sqlite_utils import Database

from memory import writes
from memory.errors import MemoryImportError
from memory.models import Entry, GuidelineEntry, MemoryDocument

FORMAT = "steward-memory"
"""The ``format`` field of every memory document."""
VERSION = 1
"""The document version this code writes and reads."""


def _describe(exc: ValidationError) -> str:
    errors = exc.errors()
    first = errors[0]
    where = ".".join(str(part) for part in first["loc"]) or "document"
    more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
    return f"{where}: {first['msg']}{more}"


def validate_document(doc: Any) -> MemoryDocument:
    """Check a whole import document; raise :class:`MemoryImportError` with a one-line reason.

    Entries without ``provenance`` get ``{"source": "import"}``. Ids in the document are
    informational: imported entries get new ids.
    """
    if isinstance(doc, MemoryDocument):
        return doc
    if not isinstance(doc, Mapping):
        raise MemoryImportError(
            f"not a Steward memory document: expected a JSON object, got {type(doc).__name__}"
        )
    if doc.get("format") != FORMAT:
        raise MemoryImportError(
            f"not a Steward memory document: 'format' must be {FORMAT!r}, got {doc.get('format')!r}"
        )
    version = doc.get("version")
    if isinstance(version, int) and not isinstance(version, bool) and version > VERSION:
        raise MemoryImportError(
            f"memory document version {version} is newer than this Steward reads ({VERSION}); "
            "upgrade Steward"
        )
    raw = copy.deepcopy(dict(doc))
    for key in ("guidelines", "expertise"):
        entries = raw.get(key)
        if isinstance(entries, list):
            for entry in entries:
                if isinstance(entry, dict):
                    entry.setdefault("provenance", {"source": "import"})
    try:
        return MemoryDocument.model_validate(raw)
    except ValidationError as exc:
        raise MemoryImportError(f"invalid memory document: {_describe(exc)}") from None


def import_document(
    db: Database,
    document: MemoryDocument,
    max_guidelines: int | None,
    max_expertise_per_token: int | None,
) -> dict[str, dict[str, int]]:
    """Write a validated document inside the caller's transaction, merging near-duplicates
    (larger counts win), then apply the size caps. Returns counts per table."""
    counts = {t: {"added": 0, "merged": 0, "evicted": 0} for t in ("guidelines", "expertise")}
    entries: list[Entry] = [*document.guidelines, *document.expertise]
    for entry in entries:
        _, merged = writes.add(db, entry, "import")
        table = "guidelines" if isinstance(entry, GuidelineEntry) else "expertise"
        counts[table]["merged" if merged else "added"] += 1
    counts["guidelines"]["evicted"] = writes.evict(db, "guideline", max_guidelines)
    for token in sorted({e.task_token for e in document.expertise}):
        counts["expertise"]["evicted"] += writes.evict(
            db, "expertise", max_expertise_per_token, token
        )
    return counts
