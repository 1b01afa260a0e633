"""Email templates: one Jinja2 text template per kind of message, and an optional HTML one.

``templates/NAME.txt.j2`` defines two blocks, ``subject`` and ``body``; ``templates/NAME.html.j2``
(optional) is the same message as HTML, autoescaped. Undefined variables are errors, so a caller
that forgets one finds out inside its own transaction, before anything is committed.

Messages are rendered when they are enqueued, not when they are delivered: the stored message is
then exactly what the state it belongs to called for (the wording, the link and its expiry as of
that commit), a worker in another process needs nothing but the keys to send it, and the context
(which often holds personal data) is never stored apart from the rendered, encrypted message. A
template changed later applies to mail enqueued from then on.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

TEMPLATES = Path(__file__).with_name("templates")
_NAME = re.compile(r"[a-z][a-z0-9_]*")


class UnknownTemplate(ValueError):
    def __init__(self, name: str) -> None:
        known = ", ".join(template_names()) or "none"
        super().__init__(f"no email template {name!r}; the templates are: {known}")
        self.name = name


@dataclass(frozen=True)
class RenderedMessage:
    """A message as it will be sent, less its envelope."""

    subject: str
    text: str
    html: str | None = None


@cache
def _environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        undefined=StrictUndefined,
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default=False),
        keep_trailing_newline=True,
    )


def template_names() -> list[str]:
    """Every kind of message there is a text template for."""
    return sorted(path.name.removesuffix(".txt.j2") for path in TEMPLATES.glob("*.txt.j2"))


def render_message(name: str, context: Mapping[str, Any]) -> RenderedMessage:
    """Render template ``name`` with ``context``; UnknownTemplate if there is no such template."""
    if not _NAME.fullmatch(name) or not (TEMPLATES / f"{name}.txt.j2").is_file():
        raise UnknownTemplate(name)
    environment = _environment()
    text_template = environment.get_template(f"{name}.txt.j2")
    blocks = text_template.blocks
    if "subject" not in blocks or "body" not in blocks:
        raise ValueError(f"email template {name}.txt.j2 needs a 'subject' and a 'body' block")
    values = dict(context)
    subject = "".join(blocks["subject"](text_template.new_context(values)))
    # One line: a newline in a header would let a value start a header of its own.
    subject = " ".join(subject.split())
    text = "".join(blocks["body"](text_template.new_context(values))).strip() + "\n"
    html = None
    if (TEMPLATES / f"{name}.html.j2").is_file():
        html = environment.get_template(f"{name}.html.j2").render(values | {"subject": subject})
    return RenderedMessage(subject=subject, text=text, html=html)
