"""The run page: one self-contained HTML document (styles, scripts and data inline; no
network access), the same for ``steward show --html`` and ``steward ui``.

The run's data goes in as JSON inside a ``<script type="application/json">`` element, with
``<``, ``>`` and ``&`` escaped, so no text of the run can end that element; the page's script
puts every text into the page as text, never as markup. A Content-Security-Policy lets only
the page's own scripts run (a fresh nonce per page) and forbids any request except, for the
live page, to the server that served it.
"""

from __future__ import annotations

import functools
import html
import json
import secrets
from importlib import resources
from typing import Any

SCRIPTS = ("dom.js", "graph.js", "timeline.js", "detail.js", "main.js")
"""The page's script, in order (one strict-mode function around them all)."""


@functools.cache
def asset(name: str) -> str:
    """A file of ``viewer/assets``."""
    return (resources.files("viewer") / "assets" / name).read_text(encoding="utf-8")


def script_json(data: Any) -> str:
    """``data`` as JSON that is safe inside a ``<script>`` element."""
    text = json.dumps(data, ensure_ascii=True, separators=(",", ":"), default=str)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def content_policy(nonce: str, *, live: bool) -> str:
    """The page's Content-Security-Policy."""
    connect = "'self'" if live else "'none'"
    return (
        f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; "
        f"img-src data:; connect-src {connect}; base-uri 'none'; form-action 'none'"
    )


def render_page(
    view: dict[str, Any], *, live: dict[str, Any] | None = None, nonce: str | None = None
) -> str:
    """The whole HTML document for a run's view (``viewer.build_view``). ``live`` (the URL to
    poll, ``interval_ms``, ``slow_ms`` and the data's ``etag``) makes the page update itself
    while the run goes on; without it the page is a file that needs nothing else."""
    nonce = nonce or secrets.token_urlsafe(16)
    run = view.get("run", {})
    title = html.escape(f"Steward run {run.get('id', '')} ({run.get('status', '')})")
    live_json = (
        f'<script type="application/json" id="steward-live">{script_json(live)}</script>\n'
        if live is not None
        else ""
    )
    code = "\n".join(asset(name) for name in SCRIPTS)
    policy = html.escape(content_policy(nonce, live=live is not None), quote=False)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{policy}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<link rel="icon" href="data:,">\n'
        f"<title>{title}</title>\n"
        f'<style nonce="{nonce}">\n{asset("view.css")}</style>\n'
        f'<script nonce="{nonce}">\n{asset("guard.js")}</script>\n'
        "</head>\n<body>\n"
        '<pre id="errors" hidden></pre>\n'
        '<div id="app"><noscript>This view needs JavaScript.</noscript></div>\n'
        f'<script type="application/json" id="steward-data">{script_json(view)}</script>\n'
        f"{live_json}"
        f'<script nonce="{nonce}">\n(function () {{\n"use strict";\n{code}\n}})();\n</script>\n'
        "</body>\n</html>\n"
    )
