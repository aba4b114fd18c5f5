"""What one worker's search did: its study, storage and the count of trials by status."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class SearchSummary:
    study_name: str
    storage: str
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
