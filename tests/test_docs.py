"""The docs cannot drift: generated pages match the code, the CLI page matches `--help`, the
Python API example runs, every page is in the site's navigation."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType

import pytest
import yaml

from searcher import api
from searcher.cli.main import build_parser, main

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("divco_docs_generate", DOCS / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


generate = load_generator()


def test_the_generated_pages_match_the_code() -> None:
    assert generate.stale_pages() == [], "run: .venv/bin/python docs/generate.py"


def test_the_cli_page_holds_every_commands_help(monkeypatch, capsys) -> None:
    monkeypatch.setenv("COLUMNS", generate.HELP_COLUMNS)
    page = (DOCS / "reference" / "cli.md").read_text()
    progs = [parser.prog for parser in generate.subcommands(build_parser())]
    assert {"searcher", "searcher run", "searcher frontier", "searcher space show"} <= set(progs)
    for prog in progs:
        with pytest.raises(SystemExit) as done:
            main([*prog.split()[1:], "--help"])
        assert done.value.code == 0
        printed = capsys.readouterr().out.rstrip()
        assert f"## `{prog}`\n\n```text\n{printed}\n```" in page, prog


def test_the_space_keys_read_from_source_are_the_real_ones() -> None:
    from space.search_space import SPACE_KEYS

    assert generate.space_keys() == list(SPACE_KEYS)


def nav_pages(entries: list) -> list[str]:
    found = []
    for entry in entries:
        value = next(iter(entry.values())) if isinstance(entry, dict) else entry
        found += nav_pages(value) if isinstance(value, list) else [value]
    return found


def test_every_page_is_in_the_navigation_and_every_entry_exists() -> None:
    config = yaml.load((ROOT / "mkdocs.yml").read_text(), Loader=yaml.Loader)
    listed = nav_pages(config["nav"])
    pages = sorted(str(p.relative_to(DOCS)) for p in DOCS.rglob("*.md"))
    assert sorted(listed) == pages


def test_every_api_name_is_on_the_api_page() -> None:
    page = (DOCS / "api.md").read_text()
    assert [name for name in api.__all__ if f"`{name}" not in page] == []


def test_the_readme_stays_a_first_read() -> None:
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 150
    assert "make demo    # " in readme and "make test    # " in readme
    for link in re.findall(r"\]\((docs/[^)#]+)", readme):
        assert (ROOT / link).is_file(), link


def python_blocks(page: Path) -> str:
    return "\n".join(re.findall(r"```python\n(.*?)```", page.read_text(), flags=re.S))


@pytest.mark.slow  # two tiny trials and an export: seconds, not milliseconds
def test_the_notebook_example_runs(tmp_path: Path, tiny_space: Path, monkeypatch) -> None:
    """The API page's code, in order, as a notebook runs it: search (2 tiny trials instead of
    digits ones), read the front, export, load in PyTorch and ONNX Runtime, predict."""
    code = python_blocks(DOCS / "api.md")
    assert code.count('space="digits"') == 1
    code = code.replace('space="digits"', f'space="{tiny_space}"')
    monkeypatch.chdir(tmp_path)  # the example's default storage and export folder land here
    namespace: dict = {}
    exec(compile(code, str(DOCS / "api.md"), "exec"), namespace)
    front, model = namespace["front"], namespace["model"]
    assert len(front) >= 1 and set(front["status"]) == {"trained"}
    assert (tmp_path / "deploy" / "model.onnx").is_file()
    assert namespace["predicted"].shape == (64,) and model.class_names[0] == "0"
