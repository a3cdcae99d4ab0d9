"""Jinja2 templates shipped as package data: prompts (``prompts/``), the generated-repo
scaffold (``repo/``) and the kernel catalogue (``kernels/<op>/``)."""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

ROOT = Path(__file__).resolve().parent


def environment() -> Environment:
    """A strict Jinja environment rooted at the templates folder."""
    return Environment(
        loader=FileSystemLoader(str(ROOT)),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render(name: str, **context: object) -> str:
    """Render the template at ``name`` (relative to the templates folder)."""
    return environment().get_template(name).render(**context)
