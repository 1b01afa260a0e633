"""Render the published privacy policy from a :class:`~troth.declaration.Policy`.

``render_markdown`` is the source text; HTML is produced from it, so both say the same thing.
"""

from __future__ import annotations

from typing import Literal

from ..policy import Policy

Format = Literal["md", "html"]


def render_markdown(policy: Policy) -> str:
    d = policy.declaration
    return f"# Privacy policy of {d.organization.name}\n\nVersion {policy.version}\n"


def render_html_fragment(policy: Policy) -> str:
    """The policy as an HTML fragment (no <html>/<head>), for embedding in a site layout."""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark").enable("table").render(render_markdown(policy))


def render_html(policy: Policy) -> str:
    """A complete, standalone HTML document."""
    return f"<!doctype html><html><body>{render_html_fragment(policy)}</body></html>"


def render(policy: Policy, fmt: Format) -> str:
    return render_markdown(policy) if fmt == "md" else render_html(policy)
