"""Active content out of the graded notebook: nothing a student wrote may run in an instructor's browser.

The formgrader shows a submission as HTML with the Jupyter server's origin; a ``<script>`` in a
markdown cell or an ``application/javascript`` output would run with the instructor's session. The
graded notebook the grader hands back therefore carries no script: markdown and HTML/SVG outputs
with active content are cleaned (bleach, tags and attributes from an allow-list), script and widget
outputs are dropped. ``c.HTMLExporter.sanitize_html = True`` in nbgrader_config.py is the second wall
(the formgrader and the feedback HTML sanitize whatever they render).
"""

from __future__ import annotations

import re
from typing import Any

import bleach
from bleach.css_sanitizer import CSSSanitizer

__all__ = ["strip_active_content"]

# what makes HTML active: scripts, frames, plugins, forms, event handlers, javascript: URLs, <base>/<meta>
_ACTIVE = re.compile(
    r"<\s*/?\s*(script|iframe|frame|object|embed|applet|form|base|meta|link|svg|math|style|template)\b"
    r"|\bon[a-z]+\s*=|javascript\s*:|vbscript\s*:|data\s*:\s*text/html|srcdoc\s*=", re.IGNORECASE)
# output types that are code for the browser
_DROPPED = ("application/javascript", "text/javascript", "application/x-javascript",
            "application/vnd.jupyter.widget-view+json", "application/vnd.jupyter.widget-state+json")
_SAFE_TAGS = sorted(bleach.sanitizer.ALLOWED_TAGS | {
    "p", "div", "span", "br", "hr", "pre", "code", "img", "h1", "h2", "h3", "h4", "h5", "h6", "table",
    "thead", "tbody", "tr", "th", "td", "sub", "sup", "details", "summary", "kbd", "dl", "dt", "dd"})
_SAFE_ATTRIBUTES = {"*": ["class", "title", "style"], "a": ["href", "title"],
                    "img": ["src", "alt", "width", "height"], "td": ["colspan", "rowspan"],
                    "th": ["colspan", "rowspan"]}
_CSS = CSSSanitizer()


def _clean(html: str) -> str:
    return bleach.clean(html, tags=_SAFE_TAGS, attributes=_SAFE_ATTRIBUTES, protocols=["http", "https", "data"],
                        strip=True, strip_comments=True, css_sanitizer=_CSS)


def _text(value: Any) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


def strip_active_content(nb: Any) -> list[str]:
    """Clean ``nb`` in place; what a student put there on purpose (script in markdown, script outputs),
    one line each, for the instructor's flag."""
    found: list[str] = []
    for index, cell in enumerate(nb.cells):
        if cell.get("cell_type") in ("markdown", "raw"):
            source = _text(cell.get("source", ""))
            if _ACTIVE.search(source):
                cell["source"] = _clean(source)
                found.append(f"cell {index}: active HTML in a {cell['cell_type']} cell")
            if cell.get("attachments"):
                cell["attachments"] = {}
                found.append(f"cell {index}: attachments")
        for out in cell.get("outputs", []) or []:
            data = out.get("data")
            if not isinstance(data, dict):
                continue
            for mime in [m for m in data if m in _DROPPED]:
                del data[mime]
                if "javascript" in mime:  # widgets (tqdm's progress bar...) are dropped without a flag
                    found.append(f"cell {index}: an {mime} output")
            for mime in ("text/html", "image/svg+xml", "text/markdown"):
                if mime in data and _ACTIVE.search(_text(data[mime])):
                    if mime == "image/svg+xml":
                        del data[mime]
                    else:  # cleaned without a flag: renderers such as treescope (nnx.display) use script
                        data[mime] = _clean(_text(data[mime]))
            if not data:
                data["text/plain"] = "[removed by the grader: active content]"
    return found
