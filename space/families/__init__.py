"""Architecture families. Importing this package registers every family module in it."""

from __future__ import annotations

import importlib
import pkgutil

from space.families.base import FAMILIES, Family, build_member, family

for _module in pkgutil.iter_modules(__path__):
    if _module.name not in ("base", "layers"):
        importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["FAMILIES", "Family", "build_member", "family"]
