"""Jinja2 rendering of the templates in templates/.

User text only ever arrives as a variable: it is escaped in HTML templates and never
compiled as a template itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from parsers.sanitize import sanitize_html


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


class Renderer:
    def __init__(self, templates_dir: str | Path, store_name: str):
        self._env = Environment(
            loader=FileSystemLoader(str(templates_dir)),
            autoescape=select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
            auto_reload=False,  # templates are read once per process; no stat() per message
        )
        self._env.globals["store_name"] = store_name
        # a post's HTML is sanitized when it is stored; sanitized again here, so that nothing a
        # template marks safe has not passed the allowlist
        self._env.filters["sanitized"] = sanitize_html

    def email(self, name: str, **context) -> Rendered:
        subject = self._env.get_template(f"{name}.subject.j2").render(**context)
        return Rendered(
            subject=" ".join(subject.split()),
            text=self._env.get_template(f"{name}.txt.j2").render(**context),
            html=self._env.get_template(f"{name}.html.j2").render(**context),
        )

    def page(self, name: str, **context) -> str:
        return self._env.get_template(f"{name}.html.j2").render(**context)
