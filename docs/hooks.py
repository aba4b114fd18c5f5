"""MkDocs hook: the build fails when a generated reference page (docs/generate.py) no longer
matches the code, so `mkdocs build --strict` in `make test` catches a drifted page."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from mkdocs.exceptions import PluginError

GENERATE = Path(__file__).with_name("generate.py")


def on_pre_build(config: Any) -> None:
    spec = importlib.util.spec_from_file_location("divco_docs_generate", GENERATE)
    assert spec is not None and spec.loader is not None
    generate = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generate)
    stale = generate.stale_pages()
    if stale:
        pages = ", ".join(f"docs/{name}" for name in stale)
        raise PluginError(f"{pages} no longer match the code: run python docs/generate.py")
