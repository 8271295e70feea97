"""``steward memory ...``: inspect, search, export, import and prune the self-evolution memory."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from cli import memory_render as render
from core.errors import UserError
from memory import (
    ENV_DB,
    ENV_RETRIEVAL,
    KINDS,
    RETRIEVALS,
    Entry,
    EntryNotFoundError,
    Kind,
    MemoryImportError,
    MemoryStore,
    Retrieval,
)

_DB_KEY = "steward.memory.db"


def _open(ctx: click.Context, retrieval: Retrieval | None = "fts") -> MemoryStore:
    """Open the store chosen by ``--db`` / ``$STEWARD_MEMORY_DB``; closed with the command.

    Only ``search`` ranks, so only it passes a ``retrieval`` (``None``:
    ``$STEWARD_MEMORY_RETRIEVAL``, else ``fts``); the other commands need no model."""
    store = MemoryStore(ctx.meta.get(_DB_KEY), retrieval=retrieval)
    ctx.call_on_close(store.close)
    return store


_kind_choice = click.Choice(KINDS)


@click.group("memory")
@click.option(
    "--db",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar=ENV_DB,
    show_envvar=True,
    help="Memory database file [default: <data dir>/memory.db].",
)
@click.pass_context
def memory(ctx: click.Context, db: Path | None) -> None:
    """Self-evolution memory: task guidelines (steward) and app expertise (staff agents),
    learned from verified successes.

    \b
    Examples:
      steward memory list --kind expertise --token '<app:twitter>'
      steward memory search "book a flight and tweet the id"
      steward memory export backup.json
      steward memory prune --min-successes 2 --older-than-days 30
    """
    ctx.meta[_DB_KEY] = db


@memory.command("list")
@click.option("--kind", type=_kind_choice, help="Only this kind.")
@click.option("--token", help="Only expertise of this task token and guidelines that use it.")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def list_cmd(
    ctx: click.Context, kind: Kind | None, token: str | None, limit: int, as_json: bool
) -> None:
    """List entries, most recently updated first."""
    entries = _open(ctx).list(kind, task_token=token, limit=limit)
    if as_json:
        render.echo_json([render.as_json(e) for e in entries])
    elif not entries:
        click.echo("No memory entries.")
    else:
        click.echo(render.table(render.SUMMARY_HEADERS, [render.summary(e) for e in entries]))


@memory.command("show")
@click.argument("kind", type=_kind_choice)
@click.argument("entry_id", metavar="ID", type=int)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def show_cmd(ctx: click.Context, kind: Kind, entry_id: int, as_json: bool) -> None:
    """Show one entry in full."""
    entry = _open(ctx).get(kind, entry_id)
    if entry is None:
        raise EntryNotFoundError(
            f"no {kind} entry with id {entry_id}; see `steward memory list --kind {kind}`"
        )
    click.echo(
        json.dumps(render.as_json(entry), indent=2, ensure_ascii=False)
        if as_json
        else render.show_text(entry)
    )


@memory.command("search")
@click.argument("query")
@click.option("--kind", type=_kind_choice, help="Only this kind.")
@click.option("--token", help="Only expertise of this task token and guidelines that use it.")
@click.option(
    "-k", "k", type=click.IntRange(min=1), default=5, show_default=True, help="Results per kind."
)
@click.option(
    "--retrieval",
    type=click.Choice(RETRIEVALS),
    help=f"fts: full text (BM25); embedding: sentence vectors (finds paraphrases); hybrid: "
    f"both, rank-fused. [default: ${ENV_RETRIEVAL}, else fts]",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def search_cmd(
    ctx: click.Context,
    query: str,
    kind: Kind | None,
    token: str | None,
    k: int,
    retrieval: Retrieval | None,
    as_json: bool,
) -> None:
    """Search entries relevant to QUERY (full text, BM25, unless --retrieval says otherwise).
    Does not count as a use.

    The vector modes need `pip install "steward[embeddings]"`; the first search embeds the
    entries that have no vector yet, once."""
    store = _open(ctx, retrieval)
    hits: list[tuple[Entry, float]] = []
    if kind in (None, "guideline"):
        found = store.search_guidelines(query, k if token is None else max(5 * k, 20))
        hits += [(e, s) for e, s in found if token is None or token in e.task_tokens][:k]
    if kind in (None, "expertise"):
        hits += store.search_expertise(query, token, k)
    if as_json:
        render.echo_json([{"score": round(s, 6), **render.as_json(e)} for e, s in hits])
    elif not hits:
        click.echo("No matching memory entries.")
    else:
        rows = [[f"{s:.3f}", *render.summary(e)] for e, s in hits]
        click.echo(render.table(["SCORE", *render.SUMMARY_HEADERS], rows))


@memory.command("export")
@click.argument("file", default="-", type=click.Path(dir_okay=False, allow_dash=True))
@click.pass_context
def export_cmd(ctx: click.Context, file: str) -> None:
    """Write every entry to FILE (default: standard output) as a versioned JSON document."""
    doc = _open(ctx).export()
    text = json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    if file == "-":
        click.echo(text, nl=False)
        return
    try:
        Path(file).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UserError(f"cannot write {file}: {exc}") from None
    click.echo(
        f"Exported {len(doc['guidelines'])} guidelines and {len(doc['expertise'])} expertise "
        f"entries to {file}",
        err=True,
    )


def _read_document(file: str) -> Any:
    try:
        text = sys.stdin.read() if file == "-" else Path(file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise MemoryImportError(f"cannot read {file}: {exc}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise MemoryImportError(f"{file} is not valid JSON: {exc}") from None


@memory.command("import")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def import_cmd(ctx: click.Context, file: str, as_json: bool) -> None:
    """Import a document written by `steward memory export` (all of it, or nothing).

    Near-duplicates merge with existing entries, so importing a file twice changes nothing.
    """
    doc = _read_document(file)
    counts = _open(ctx).import_(doc)
    if as_json:
        render.echo_json(counts)
        return
    parts = [
        f"{table}: {c['added']} added, {c['merged']} merged"
        + (f", {c['evicted']} evicted" if c["evicted"] else "")
        for table, c in counts.items()
    ]
    click.echo(f"Imported {file}: " + "; ".join(parts))


@memory.command("prune")
@click.option(
    "--min-successes",
    type=click.IntRange(min=0),
    help="Delete entries with fewer successes than this...",
)
@click.option(
    "--older-than-days",
    type=click.FloatRange(min=0),
    help="...and (if both are given) not updated for this many days.",
)
@click.option(
    "--keep",
    type=click.IntRange(min=0),
    help="Then keep only the N most useful entries of each kind.",
)
@click.option("--kind", type=_kind_choice, help="Only this kind.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def prune_cmd(
    ctx: click.Context,
    min_successes: int | None,
    older_than_days: float | None,
    keep: int | None,
    kind: Kind | None,
    as_json: bool,
) -> None:
    """Delete weak or stale entries."""
    if min_successes is None and older_than_days is None and keep is None:
        raise click.UsageError("give at least one of --min-successes, --older-than-days, --keep")
    deleted = _open(ctx).prune(
        min_successes=min_successes, older_than_days=older_than_days, keep=keep, kind=kind
    )
    if as_json:
        render.echo_json({"deleted": deleted})
    else:
        click.echo("Deleted " + ", ".join(f"{n} {k}" for k, n in deleted.items()) + " entries.")


@memory.command("clear")
@click.option("--kind", type=_kind_choice, help="Only this kind.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def clear_cmd(ctx: click.Context, kind: Kind | None, yes: bool) -> None:
    """Delete every entry (of one kind)."""
    store = _open(ctx)
    if not yes:
        what = "all memory entries" if kind is None else f"all {kind} entries"
        click.confirm(f"Delete {what} from {store.path}?", abort=True)
    deleted = store.clear(kind)
    click.echo("Deleted " + ", ".join(f"{n} {k}" for k, n in deleted.items()) + " entries.")


@memory.command("stats")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def stats_cmd(ctx: click.Context, as_json: bool) -> None:
    """Counts per kind and per task token."""
    stats = _open(ctx).stats()
    if as_json:
        render.echo_json(stats)
        return
    click.echo(f"Database: {stats['path']}")
    for table, kind in (("guidelines", "guideline"), ("expertise", "expertise")):
        s = stats[table]
        click.echo(
            f"{table}: {s['count']} entries, {s['successes']} successes, {s['uses']} uses, "
            f"{stats['vectors'][kind]} embedded"
        )
        for token, n in s["by_token"].items():
            click.echo(f"  {token}: {n}")


@memory.command("embed")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def embed_cmd(ctx: click.Context, as_json: bool) -> None:
    """Compute the sentence vectors that entries lack (needs steward[embeddings]).

    Entries written while retrieval was fts, or imported, get their vectors at the first
    embedding or hybrid search; this does it ahead of time, with progress.
    """
    store = _open(ctx, retrieval="embedding")

    def progress(kind: Kind, done: int, total: int) -> None:
        if not as_json:
            click.echo(f"{kind}: {done}/{total} embedded", err=True)

    stored = store.embed_missing(on_progress=progress)
    if as_json:
        render.echo_json({"path": store.path, "embedded": stored})
        return
    click.echo(
        f"Embedded {stored['guideline']} guideline(s) and {stored['expertise']} expertise "
        f"entr{'y' if stored['expertise'] == 1 else 'ies'} in {store.path}."
    )


@memory.command("delete")
@click.argument("kind", type=_kind_choice)
@click.argument("entry_id", metavar="ID", type=int)
@click.pass_context
def delete_cmd(ctx: click.Context, kind: Kind, entry_id: int) -> None:
    """Delete one entry."""
    if not _open(ctx).delete(kind, entry_id):
        raise EntryNotFoundError(f"no {kind} entry with id {entry_id}")
    click.echo(f"Deleted {kind} {entry_id}.")


COMMANDS = [memory]
