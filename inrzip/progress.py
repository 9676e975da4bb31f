"""Progress reporting from long encoder work to whoever is listening (the CLI's rich bar)."""
from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    def __call__(self, stage: str, done: int, total: int, **info: float) -> None: ...


def silent(stage: str, done: int, total: int, **info: float) -> None:
    """The default listener: ignores everything."""
