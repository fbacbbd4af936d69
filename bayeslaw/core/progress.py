"""Progress reporting that long computations share."""

from __future__ import annotations

from collections.abc import Callable


def every_tenth(callback: Callable[[int, int], None]) -> Callable[[int, int], None]:
    """A ``progress(done, total)`` that passes on only each new tenth (the planner calls it per chunk)."""
    shown = [-1]

    def progress(done: int, total: int) -> None:
        if (step := int(10 * done / total)) != shown[0]:
            shown[0] = step
            callback(done, total)

    return progress
