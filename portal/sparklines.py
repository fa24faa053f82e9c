"""A check's latency sparkline: a small chart of its recent latencies as SVG polyline
points. Drawn once per scan, when the scan records the check's latency
(HealthCheck.keep_latency), and kept on the check: a large category's page shows
thousands, and reading and scaling each one's latencies on every render cost more than
the rest of its health."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import NamedTuple

# Between the stored points of the line's segments (points are digits, "," and " ").
SEGMENT_SEPARATOR = "|"


class Sparkline(NamedTuple):
    """A small latency chart as SVG polyline points, drawn on the server. A NamedTuple, as
    the map's nodes (portal/diagram.py): a large category's page reads thousands."""

    WIDTH = 120
    HEIGHT = 28

    segments: tuple[str, ...]
    peak_ms: float

    @classmethod
    def from_latencies(cls, latencies: Iterable[float | None]) -> Sparkline | None:
        """Points scaled to the box; a failed probe (no latency) breaks the line."""
        values = list(latencies)
        if None not in values and len(values) >= 2:
            # No failed probe, as most: one line, written in one format call (a scan draws
            # one per check).
            peak = max(values) or 1.0
            top, span = cls.HEIGHT - 2, cls.HEIGHT - 4
            ys = [top - span * value / peak for value in values]
            line = _sparkline_format(len(values), cls.WIDTH).format(*ys)
            return cls(segments=(line,), peak_ms=peak)
        known = [value for value in values if value is not None]
        if len(known) < 2:
            return None
        peak = max(known) or 1.0
        xs = _sparkline_xs(len(values), cls.WIDTH)
        segments, current = [], []
        for x, value in zip(xs, values, strict=True):
            if value is None:
                if current:
                    segments.append(" ".join(current))
                current = []
                continue
            y = cls.HEIGHT - 2 - (cls.HEIGHT - 4) * value / peak
            current.append(f"{x},{y:.1f}")
        if current:
            segments.append(" ".join(current))
        return cls(segments=tuple(segments), peak_ms=peak)

    @property
    def points(self) -> str:
        """The segments as kept on the check (`stored` reads them back)."""
        return SEGMENT_SEPARATOR.join(self.segments)

    @classmethod
    def stored(cls, points: str, peak_ms: float | None) -> Sparkline | None:
        """The sparkline a check keeps (`points` and its peak), or None if it has none."""
        if not points:
            return None
        return cls(segments=tuple(points.split(SEGMENT_SEPARATOR)), peak_ms=peak_ms)


@functools.cache
def _sparkline_format(points: int, width: int) -> str:
    """An unbroken sparkline of `points` points, to format with their ys: its xs written
    in, as `from_latencies` writes them point by point."""
    return " ".join(f"{x},{{:.1f}}" for x in _sparkline_xs(points, width))


@functools.cache
def _sparkline_xs(points: int, width: int) -> tuple[str, ...]:
    """The x of each point of a sparkline of `points` points, as drawn: the same for every
    sparkline of that many points, so written once."""
    step = width / max(points - 1, 1)
    return tuple(f"{index * step:.1f}" for index in range(points))
