"""Render the published privacy policy from a :class:`~troth.declaration.Policy`.

The Markdown is the source text; the HTML is made from it, so both always say the same thing,
and every word comes from the declaration.
"""

from __future__ import annotations

import re
from functools import cache
from html import escape
from typing import Literal

import jinja2
from markdown_it import MarkdownIt

from ..policy import Policy
from .view import PolicyView
from .words import cell, every, region

Format = Literal["md", "html"]


@cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("troth.declaration", "render"),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # Markdown output; HTML escaping happens in the Markdown renderer.
    )
    env.filters.update(cell=cell, every=every, region=region)
    return env


def render_markdown(policy: Policy) -> str:
    text = _environment().get_template("policy.md.j2").render(PolicyView(policy).context())
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


@cache
def _markdown() -> MarkdownIt:
    # Raw HTML in declared text is escaped, never passed through.
    return MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")


def render_html_fragment(policy: Policy) -> str:
    """The policy as an HTML fragment (no <html>/<head>), for embedding in a site layout."""
    return _markdown().render(render_markdown(policy))


def render_html(policy: Policy) -> str:
    """A complete, standalone HTML document."""
    d = policy.declaration
    return (
        _environment()
        .get_template("standalone.html.j2")
        .render(
            title=escape(f"Privacy policy of {d.organization.name}"),
            lang=escape(d.policy.language),
            body=render_html_fragment(policy),
            content_hash=policy.content_hash,
        )
    )


def render(policy: Policy, fmt: Format) -> str:
    return render_markdown(policy) if fmt == "md" else render_html(policy)
