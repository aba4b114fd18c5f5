"""The preset spaces, one YAML file each. Listing them needs no torch (the CLI's help does)."""

from __future__ import annotations

from importlib import resources


def preset_names() -> list[str]:
    files = resources.files(__name__).iterdir()
    return sorted(f.name.removesuffix(".yaml") for f in files if f.name.endswith(".yaml"))
