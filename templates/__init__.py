"""Jinja2 templates shipped as package data: prompts (``prompts/``), the generated-repo
scaffold (``repo/``) and the kernel catalogue (``kernels/<op>/``)."""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

ROOT = Path(__file__).resolve().parent


def environment() -> Environment:
    """A strict Jinja environment rooted at the templates folder; HTML and XML templates
    (``*.html.j2``, ``*.xml.j2``) escape every value they are given."""
    return Environment(
        loader=FileSystemLoader(str(ROOT)),
        undefined=StrictUndefined,
        autoescape=select_autoescape(
            enabled_extensions=("html.j2", "htm.j2", "xml.j2"), default_for_string=False
        ),
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render(name: str, **context: object) -> str:
    """Render the template at ``name`` (relative to the templates folder)."""
    return environment().get_template(name).render(**context)
