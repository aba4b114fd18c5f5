"""`Candidate`: the one description of a divided ensemble that everything downstream takes.

It is frozen and validates itself, so a Candidate that exists is buildable. It round-trips
losslessly through dict / YAML / JSON, and through Optuna trial params (the searched
dimensions only; the recipe and data shape come from the search space).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, get_args

import yaml

from space.checks import check_choice, checked_fields
from space.errors import ConfigError
from space.families import family
from space.member import Stem
from space.recipe import Recipe

# Names of the searched dimensions in trial params; per-family ones are prefixed "<family>.".
FAMILY_PARAM = "family"
NETWORKS_PARAM = "S"
IMAGE_SIZE_PARAM = "image_size"
PER_FAMILY_PARAMS = ("depth", "width", "groups")


@dataclass(frozen=True)
class Candidate:
    """An undivided network (family, depth, width, groups) split into `networks` = S members."""

    family: str
    depth: int
    width: int
    networks: int = 1
    image_size: int = 32
    groups: int = 1
    stem: Stem = "cifar"
    in_channels: int = 3
    num_classes: int = 10
    recipe: Recipe = field(default_factory=Recipe)

    def __post_init__(self) -> None:
        arch = family(self.family)  # raises with the valid family names
        for name in ("depth", "width", "networks", "image_size", "groups"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ConfigError(f"{name}={value!r} is not an integer")
        arch.check(self.family, self.depth, self.width, self.groups)
        if self.networks < 1:
            raise ConfigError(f"S (networks) {self.networks} is not allowed; S must be >= 1")
        if self.image_size < 8:
            raise ConfigError(f"image_size {self.image_size} is not allowed; it must be >= 8")
        if self.in_channels < 1:
            raise ConfigError(f"in_channels {self.in_channels} is not allowed; it must be >= 1")
        if self.num_classes < 2:
            raise ConfigError(f"num_classes {self.num_classes} is not allowed; it must be >= 2")
        check_choice("stem", self.stem, get_args(Stem))
        if not isinstance(self.recipe, Recipe):
            raise ConfigError("recipe must be a Recipe")

    @property
    def id(self) -> str:
        """Stable across processes and versions of Python: a hash of the canonical JSON."""
        canonical = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:12]

    @property
    def label(self) -> str:
        base = family(self.family).label(self.depth, self.width, self.groups)
        return f"{base} S={self.networks} @{self.image_size}px"

    def replace(self, **changes: Any) -> Candidate:
        return dataclasses.replace(self, **changes)

    # -- dict / YAML / JSON -------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        data["recipe"] = self.recipe.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Candidate:
        values = checked_fields(cls, data, "candidate")
        missing = [k for k in ("family", "depth", "width") if k not in values]
        if missing:
            raise ConfigError(f"candidate is missing {', '.join(missing)}")
        values["recipe"] = Recipe.from_dict(values.get("recipe") or {})
        return cls(**values)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    @classmethod
    def from_yaml(cls, text: str) -> Candidate:
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ConfigError(f"candidate YAML is malformed: {_first_line(exc)}") from None
        return cls.from_dict(data)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Candidate:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"candidate JSON is malformed: {exc}") from None
        return cls.from_dict(data)

    # -- Optuna trial params ------------------------------------------------------------
    def to_params(self) -> dict[str, Any]:
        """The searched dimensions, named as `space.suggest` names them (for enqueue_trial)."""
        params: dict[str, Any] = {FAMILY_PARAM: self.family}
        for name in PER_FAMILY_PARAMS:
            params[f"{self.family}.{name}"] = getattr(self, name)
        params[NETWORKS_PARAM] = self.networks
        params[IMAGE_SIZE_PARAM] = self.image_size
        return params

    @classmethod
    def from_params(cls, params: dict[str, Any], template: Candidate) -> Candidate:
        """Rebuilds a candidate from trial params; `template` supplies the unsearched fields."""
        name = params[FAMILY_PARAM]
        per_family = {k: params.get(f"{name}.{k}", getattr(template, k)) for k in PER_FAMILY_PARAMS}
        return template.replace(
            family=name,
            networks=params.get(NETWORKS_PARAM, template.networks),
            image_size=params.get(IMAGE_SIZE_PARAM, template.image_size),
            **per_family,
        )


def _first_line(exc: Exception) -> str:
    return " ".join(str(exc).split())
