"""`Candidate`: the one description of a divided ensemble that everything downstream takes.

It is frozen and validates itself, so a Candidate that exists is buildable. It round-trips
losslessly through dict / YAML / JSON, and through Optuna trial params (the searched
dimensions only; the recipe and data shape come from the search space).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, get_args

import yaml

from space import params
from space.checks import check_choice, checked_fields
from space.errors import ConfigError
from space.families import family
from space.member import Architecture, Stem
from space.recipe import Recipe


@dataclass(frozen=True)
class Candidate:
    """An undivided network (family, depth, width, groups) split into `networks` = S members.

    Heterogeneous ensembles (Kondratyuk & Tan) set `members`: each member's own architecture,
    not divided, kept in a canonical order; the top-level family/depth/width/groups are then the
    first member's and `networks` is the member count.
    """

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
    members: tuple[Architecture, ...] = ()

    def __post_init__(self) -> None:
        if self.members:
            self._check_members()
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
        if self.recipe.init == "wide_then_narrow" and (self.members or not arch.imitable):
            what = "heterogeneous candidates" if self.members else f"family '{self.family}'"
            raise ConfigError(f"recipe init wide_then_narrow is not available for {what}")

    def _check_members(self) -> None:
        members = tuple(
            m if isinstance(m, Architecture) else Architecture(**m) for m in self.members
        )
        for m in members:
            family(m.family).check(m.family, m.depth, m.width, m.groups)
        members = tuple(sorted(members))
        object.__setattr__(self, "members", members)  # canonical: permutations are one ensemble
        if len(members) < 2:
            raise ConfigError("a heterogeneous candidate needs at least 2 members")
        first = members[0]
        if (self.family, self.depth, self.width, self.groups, self.networks) != (
            first.family, first.depth, first.width, first.groups, len(members)
        ):  # fmt: skip
            raise ConfigError("a heterogeneous candidate's family/depth/width/groups/networks must "
                              "be its first member's and its member count (use with_members)")  # fmt: skip

    def with_members(self, members: Sequence[Architecture], **changes: Any) -> Candidate:
        """This candidate's data shape and recipe with the given heterogeneous members."""
        first = min(members)
        return self.replace(
            family=first.family, depth=first.depth, width=first.width, groups=first.groups,
            networks=len(members), members=tuple(members), **changes,
        )  # fmt: skip

    @property
    def architecture(self) -> Architecture:
        return Architecture(self.family, self.depth, self.width, self.groups)

    @property
    def id(self) -> str:
        """Stable across processes and versions of Python: a hash of the canonical JSON."""
        canonical = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:12]

    @property
    def label(self) -> str:
        if self.members:
            names = " + ".join(
                family(m.family).label(m.depth, m.width, m.groups) for m in self.members
            )
            return f"[{names}] @{self.image_size}px"
        base = family(self.family).label(self.depth, self.width, self.groups)
        return f"{base} S={self.networks} @{self.image_size}px"

    def replace(self, **changes: Any) -> Candidate:
        return dataclasses.replace(self, **changes)

    # -- dict / YAML / JSON -------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        data["recipe"] = self.recipe.to_dict()
        data["members"] = [m.to_dict() for m in self.members]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Candidate:
        values = checked_fields(cls, data, "candidate")
        missing = [k for k in ("family", "depth", "width") if k not in values]
        if missing:
            raise ConfigError(f"candidate is missing {', '.join(missing)}")
        values["recipe"] = Recipe.from_dict(values.get("recipe") or {})
        raw_members = values.get("members") or []
        if not isinstance(raw_members, list):
            raise ConfigError("candidate members must be a list of {family, depth, width, groups}")
        values["members"] = tuple(
            Architecture(**checked_fields(Architecture, m, "member")) for m in raw_members
        )
        return cls(**values)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    @classmethod
    def from_yaml(cls, text: str) -> Candidate:
        return cls.from_dict(_parse(text, "YAML"))

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Candidate:
        return cls.from_dict(_parse(text, "JSON"))

    # -- Optuna trial params (names in space.params) -------------------------------------
    def to_params(self) -> dict[str, Any]:
        """The searched dimensions, named as `space.suggest` names them (for enqueue_trial)."""
        values: dict[str, Any] = {}
        if self.members:
            values[params.MEMBERS] = len(self.members)
            for i, arch in enumerate(self.members):
                values.update(params.arch_params(arch, params.member_prefix(i)))
        else:
            values.update(params.arch_params(self.architecture, ""))
            values[params.NETWORKS] = self.networks
        values[params.IMAGE_SIZE] = self.image_size
        if self.recipe.init != "scratch":
            values[params.INIT] = self.recipe.init
        return values

    @classmethod
    def from_params(cls, values: dict[str, Any], template: Candidate) -> Candidate:
        """Rebuilds a candidate from trial params; `template` supplies the unsearched fields."""
        image_size = values.get(params.IMAGE_SIZE, template.image_size)
        if params.INIT in values:
            recipe = dataclasses.replace(template.recipe, init=values[params.INIT])
            template = template.replace(recipe=recipe)
        if params.MEMBERS in values:
            members = [
                params.arch_from(values, params.member_prefix(i), template)
                for i in range(values[params.MEMBERS])
            ]
            return template.with_members(members, image_size=image_size)
        arch = params.arch_from(values, "", template)
        return template.replace(
            family=arch.family, depth=arch.depth, width=arch.width, groups=arch.groups,
            networks=values.get(params.NETWORKS, template.networks), image_size=image_size,
            members=(),
        )  # fmt: skip


def _parse(text: str, syntax: str) -> Any:
    try:
        return yaml.safe_load(text) if syntax == "YAML" else json.loads(text)
    except (yaml.YAMLError, json.JSONDecodeError) as exc:
        raise ConfigError(
            f"candidate {syntax} is malformed: {' '.join(str(exc).split())}"
        ) from None
