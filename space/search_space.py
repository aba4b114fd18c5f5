"""Search spaces: which families, depths, widths, S and image sizes a study may propose.

A space is a YAML file (see `space/presets/`); loading validates every key and every value, so a
typo or an impossible depth is refused with the allowed choices before any trial starts.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import itertools
import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal, get_args

import yaml

from space.candidate import Candidate
from space.checks import check_choice, check_keys, checked_fields, checked_mapping
from space.errors import ConfigError
from space.member import Architecture, Stem
from space.presets import preset_names
from space.recipe import Init, Recipe

PRESET_PACKAGE = "space.presets"


@dataclass(frozen=True)
class FamilyChoices:
    depths: tuple[int, ...]
    widths: tuple[int, ...]
    groups: tuple[int, ...] = (1,)

    def options(self, param: str) -> tuple[int, ...]:
        """Choices of one per-family trial parameter ("depth", "width" or "groups")."""
        return {"depth": self.depths, "width": self.widths, "groups": self.groups}[param]


SpaceKind = Literal["homogeneous", "heterogeneous"]


@dataclass(frozen=True)
class SearchSpace:
    """`networks`: the S choices (homogeneous: one network divided into S) or the member counts
    M (heterogeneous: every member picks its own family, depth and width from `families`)."""

    name: str
    families: dict[str, FamilyChoices]
    networks: tuple[int, ...]
    image_sizes: tuple[int, ...]
    stem: Stem = "cifar"
    in_channels: int = 3
    num_classes: int = 10
    recipe: Recipe = field(default_factory=Recipe)
    references: tuple[dict[str, Any], ...] = ()
    description: str = ""
    kind: SpaceKind = "homogeneous"
    inits: tuple[str, ...] = ()  # recipe inits to search (scratch, wide_then_narrow); () = recipe's

    def __post_init__(self) -> None:
        check_choice("space kind", self.kind, get_args(SpaceKind))
        if self.kind == "heterogeneous" and min(self.networks) < 2:
            raise ConfigError(f"heterogeneous space '{self.name}' needs member counts >= 2")
        if not self.families:
            raise ConfigError(f"space '{self.name}' names no families")
        for what in ("networks", "image_sizes"):
            if not getattr(self, what):
                raise ConfigError(f"space '{self.name}' has an empty '{what}' list")
        all_candidates = set(self._all_candidates)  # builds, so validates, every combination
        for ref in self.reference_candidates():
            if ref not in all_candidates:
                raise ConfigError(f"reference {ref.label} is outside space '{self.name}'")

    @property
    def family_names(self) -> list[str]:
        return sorted(self.families)

    def template(self) -> Candidate:
        """A valid homogeneous candidate carrying the space's unsearched fields (stem, data
        shape, recipe); `suggest` replaces the searched ones."""
        name = self.family_names[0]
        choices = self.families[name]
        return Candidate(
            family=name,
            depth=choices.depths[0],
            width=choices.widths[0],
            groups=choices.groups[0],
            networks=1,
            image_size=self.image_sizes[0],
            stem=self.stem,
            in_channels=self.in_channels,
            num_classes=self.num_classes,
            recipe=self.recipe,
        )

    def architectures(self) -> list[Architecture]:
        return [
            Architecture(name, d, w, g)
            for name in self.family_names
            for d, w, g in itertools.product(
                self.families[name].depths, self.families[name].widths, self.families[name].groups
            )
        ]

    def candidates(self) -> list[Candidate]:
        """Every candidate (heterogeneous: every multiset of architectures of each size M)."""
        return list(self._all_candidates)

    @functools.cached_property
    def _all_candidates(self) -> tuple[Candidate, ...]:
        """Enumerated once per space: validation, budget checks and progress all need them."""
        template = self.template()
        if self.kind == "heterogeneous":
            return tuple(
                template.with_members(combo, image_size=px)
                for m in self.networks
                for combo in itertools.combinations_with_replacement(self.architectures(), m)
                for px in self.image_sizes
            )
        recipes = [dataclasses.replace(self.recipe, init=i) for i in self.inits] or [self.recipe]
        return tuple(
            template.replace(
                family=name, depth=d, width=w, groups=g, networks=s, image_size=px, recipe=recipe
            )
            for name in self.family_names
            for d, w, g in itertools.product(
                self.families[name].depths, self.families[name].widths, self.families[name].groups
            )
            for s, px in itertools.product(self.networks, self.image_sizes)
            for recipe in recipes
        )

    def reference_candidates(self) -> list[Candidate]:
        """The paper's comparison: each reference network at every S of the space."""
        template = self.template()
        return [
            template.replace(**{"groups": 1, **ref}, networks=s)
            for ref in self.references
            for s in sorted(self.networks)
        ]

    def trial_params(self, candidate: Candidate) -> dict[str, Any]:
        """The candidate's trial params in this space: where the space searches `inits`, the
        init is always given (an enqueued scratch reference must not have it sampled)."""
        params = candidate.to_params()
        return params | ({"init": candidate.recipe.init} if self.inits else {})

    def with_data(self, in_channels: int, num_classes: int) -> SearchSpace:
        return dataclasses.replace(self, in_channels=in_channels, num_classes=num_classes)

    def with_recipe(self, **changes: Any) -> SearchSpace:
        return dataclasses.replace(self, recipe=dataclasses.replace(self.recipe, **changes))

    def to_dict(self) -> dict[str, Any]:
        return {
            "description": self.description,
            "families": {
                name: {k: list(v) for k, v in dataclasses.asdict(c).items()}
                for name, c in sorted(self.families.items())
            },
            "networks": list(self.networks),
            "image_sizes": list(self.image_sizes),
            "stem": self.stem,
            "input": {"channels": self.in_channels, "classes": self.num_classes},
            "recipe": self.recipe.to_dict(),
            "references": [dict(r) for r in self.references],
            "kind": self.kind,
        } | ({"inits": list(self.inits)} if self.inits else {})  # old fingerprints stay

    @property
    def fingerprint(self) -> str:
        """Identifies what the space can propose, so a study is never resumed with another."""
        canonical = json.dumps(self.to_dict() | {"description": ""}, sort_keys=True)
        return hashlib.sha256(canonical.encode()).hexdigest()[:12]


SPACE_KEYS = ("description", "families", "networks", "image_sizes", "stem", "input", "recipe")
SPACE_KEYS += ("references", "kind", "inits")


def load_space(name_or_path: str) -> SearchSpace:
    """A preset name (`digits`, `cifar`, `imagenet`) or the path of a space YAML file."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or path.exists():
        if not path.is_file():
            raise ConfigError(f"space file {path} does not exist")
        return parse_space(path.read_text(), name=path.stem, where=str(path))
    if name_or_path not in preset_names():
        valid = ", ".join(preset_names())
        raise ConfigError(f"unknown space preset '{name_or_path}'; valid: {valid} or a YAML path")
    text = resources.files(PRESET_PACKAGE).joinpath(f"{name_or_path}.yaml").read_text()
    return parse_space(text, name=name_or_path, where=f"preset {name_or_path}")


def parse_space(text: str, name: str, where: str) -> SearchSpace:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{where} is malformed YAML: {' '.join(str(exc).split())}") from None
    return space_from_dict(data, name, where)


def space_from_dict(data: Any, name: str, where: str = "space") -> SearchSpace:
    """The inverse of `SearchSpace.to_dict` (also what a YAML file holds)."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where} must be a YAML mapping with keys: {', '.join(SPACE_KEYS)}")
    check_keys(data, SPACE_KEYS, f"{where}: unknown key(s)")
    data_input = checked_mapping(data.get("input", {}), ("channels", "classes"), f"{where} input")
    return SearchSpace(
        name=name,
        description=str(data.get("description", "")),
        families=_parse_families(data.get("families"), where),
        networks=int_list(data.get("networks"), f"{where} networks"),
        image_sizes=int_list(data.get("image_sizes"), f"{where} image_sizes"),
        stem=data.get("stem", "cifar"),
        in_channels=data_input.get("channels", 3),
        num_classes=data_input.get("classes", 10),
        recipe=Recipe.from_dict(data.get("recipe") or {}),
        references=tuple(_parse_reference(r, where) for r in data.get("references") or []),
        kind=data.get("kind", "homogeneous"),
        inits=_parse_inits(data.get("inits"), where),
    )


def _parse_inits(raw: Any, where: str) -> tuple[str, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or not raw:
        raise ConfigError(
            f"{where} inits must be a non-empty list, e.g. [scratch, wide_then_narrow]"
        )
    for value in raw:
        check_choice(f"{where} inits", value, get_args(Init))
    return tuple(raw)


def _parse_families(raw: Any, where: str) -> dict[str, FamilyChoices]:
    if not isinstance(raw, dict) or not raw:
        raise ConfigError(f"{where}: 'families' must map family names to depths/widths/groups")
    families = {}
    for name, choices in raw.items():
        fields = checked_fields(FamilyChoices, choices or {}, f"{where} families.{name}")
        families[name] = FamilyChoices(
            **{k: int_list(v, f"{where} families.{name}.{k}") for k, v in fields.items()}
        )
    return families


def _parse_reference(raw: Any, where: str) -> dict[str, Any]:
    allowed = ("family", "depth", "width", "groups", "image_size")
    return checked_mapping(raw, allowed, f"{where} reference")


def int_list(raw: Any, what: str) -> tuple[int, ...]:
    values = raw if isinstance(raw, list) else [raw]
    if raw is None or not values or not all(_is_int(v) for v in values):
        raise ConfigError(f"{what} must be a non-empty list of integers, got {raw!r}")
    return tuple(values)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
