"""Imports run one way (issue 11): main -> app -> channels -> services -> jobs -> intake -> outbox -> domain;
config, storage and parsers below them all; parsers and storage never import the gateway. A new import against that
direction fails here."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# higher may import lower, never the reverse; a module may import its own layer
ORDER = ["gateway.main", "gateway.app", "gateway.channels", "gateway.services", "gateway.jobs", "gateway.intake",
         "gateway.outbox", "gateway.domain", "gateway.config", "storage", "parsers"]



def _layer(module: str) -> int:
    return next(i for i, prefix in enumerate(ORDER) if module == prefix or module.startswith(prefix + "."))


def _imports() -> list[tuple[str, str]]:
    found = []
    for folder in ("gateway", "storage", "parsers"):
        for path in (ROOT / folder).rglob("*.py"):
            if "migrations" in path.parts or path.name == "__main__.py":
                continue
            module = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
            for node in ast.walk(ast.parse(path.read_text())):
                names = ([node.module] if isinstance(node, ast.ImportFrom) and node.module and not node.level
                         else [a.name for a in node.names] if isinstance(node, ast.Import) else [])
                found += [(module, name) for name in names if name.split(".")[0] in ("gateway", "storage", "parsers")]
    return found


def test_imports_run_down_the_layers():
    against = sorted({(module, target) for module, target in _imports()
                      if _layer(target) < _layer(module)})
    assert against == []

