"""Validation helpers shared by the candidate, recipe and space parsers: errors name the choices."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from space.errors import ConfigError


def check_keys(data: dict[str, Any], allowed: Sequence[str], what: str) -> None:
    """Refuses keys not in `allowed`, naming the valid ones (catches YAML typos)."""
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise ConfigError(f"{what} {', '.join(unknown)}; valid: {', '.join(allowed)}")


def checked_mapping(raw: Any, allowed: Sequence[str], what: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise ConfigError(f"{what} must be a mapping with keys: {', '.join(allowed)}")
    check_keys(raw, allowed, f"{what}: unknown key(s)")
    return dict(raw)


def check_choice(what: str, value: object, allowed: tuple[object, ...]) -> None:
    if value not in allowed:
        raise ConfigError(
            f"{what} '{value}' is not allowed; allowed: {', '.join(map(str, allowed))}"
        )


def checked_fields(cls: type, data: dict[str, Any], what: str) -> dict[str, Any]:
    """Refuses keys the dataclass does not have, naming the valid ones (catches YAML typos)."""
    if not isinstance(data, dict):
        raise ConfigError(f"{what} must be a mapping, got {type(data).__name__}")
    check_keys(data, [f.name for f in dataclasses.fields(cls)], f"unknown {what} key(s)")
    types = {f.name: f.type for f in dataclasses.fields(cls)}
    return {key: _coerce(f"{what} {key}", value, types[key]) for key, value in data.items()}


def _coerce(what: str, value: Any, annotation: object) -> Any:
    """YAML reads `1e-4` as a string and `5` as an int: accept both where a number is meant."""
    if value is None or annotation not in ("float", "float | None", "int"):
        return value
    try:
        if annotation == "int":
            if isinstance(value, bool) or float(value) != int(float(value)):
                raise ValueError
            return int(float(value))
        if isinstance(value, bool):
            raise ValueError
        return float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{what}={value!r} is not a number") from None
