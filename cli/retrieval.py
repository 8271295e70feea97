"""``--memory-retrieval``, shared by ``steward run`` and the benchmarks (a module of its own, so
that ``steward run`` does not import the benchmarks to get it)."""

from __future__ import annotations

import click

from memory.embedding import RETRIEVALS

retrieval_option = click.option(
    "--memory-retrieval",
    type=click.Choice(RETRIEVALS),
    help="How memory is searched: fts (BM25), embedding (sentence similarity; needs "
    "steward[embeddings]) or hybrid [default: $STEWARD_MEMORY_RETRIEVAL or fts].",
)
