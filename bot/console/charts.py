"""Charts drawn on the server as SVG (templates/console/_charts.html.j2): the geometry here, the drawing and
the words in the template. No script, no library, nothing fetched."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Segment:
    kind: str          # a CSS class: completed | unfinished | cancelled | met | breached | value
    value: float
    x: float
    width: float


@dataclass(frozen=True)
class Row:
    label: str
    y: float
    segments: tuple[Segment, ...]
    text: str          # what the bar's end says (a count, a share)


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    label_width: int
    bar_height: int
    rows: tuple[Row, ...]
    kinds: tuple[str, ...]   # the legend, in order

    @property
    def plot_width(self) -> int:
        return self.width - self.label_width - 64


def bars(rows: list[tuple[str, list[tuple[str, float]], str]], *, scale: float | None = None, width: int = 640,
         label_width: int = 96, bar_height: int = 18, gap: int = 10) -> Chart:
    """Horizontal bars, each of stacked segments: rows of (label, [(kind, value)], text at the end). `scale`:
    the value of a full-width bar (the largest total when not given: shares pass 1.0)."""
    plot = width - label_width - 64
    biggest = scale if scale is not None else max((sum(v for _, v in segs) for _, segs, _ in rows), default=0)
    per = plot / biggest if biggest else 0
    out, kinds = [], []
    for i, (label, segs, text) in enumerate(rows):
        x, drawn = float(label_width), []
        for kind, value in segs:
            if kind not in kinds:
                kinds.append(kind)
            if value > 0:
                drawn.append(Segment(kind, value, x, value * per))
                x += value * per
        out.append(Row(label, gap + i * (bar_height + gap), tuple(drawn), text))
    return Chart(width, gap + len(rows) * (bar_height + gap), label_width, bar_height, tuple(out), tuple(kinds))
