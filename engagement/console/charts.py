"""Server-rendered charts: the geometry of an inline SVG line chart, computed here and drawn by
``templates/console/chart.html``. No script and no library: a few polylines need neither, and the page
then works with JavaScript off (each chart is followed by its data as a table)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from engagement.console.i18n import translate

WIDTH, HEIGHT = 720, 260
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 12, 36


@dataclass(frozen=True)
class Series:
    key: str
    label: str
    css: str  # s1..s5: a colour of the stylesheet
    points: str  # "x,y x,y ..." for <polyline points>
    values: list[float]


@dataclass(frozen=True)
class Chart:
    title: str
    labels: list[str]  # one per x position (dates)
    series: list[Series]
    y_ticks: list[tuple[float, str]]  # (y, label)
    x_ticks: list[tuple[float, str]]
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    bottom: int = HEIGHT - BOTTOM
    right: int = WIDTH - RIGHT
    top: int = TOP


def line_chart(
    title: str,
    labels: Sequence[str],
    series: Sequence[tuple[str, str, Sequence[float]]],
    *,
    percent: bool = False,
) -> Chart:
    """A line chart of ``series`` (key, label, values) over ``labels``, scaled to fit."""
    peak = max([v for _k, _l, values in series for v in values] + [1.0 if percent else 1])
    top_value = 1.0 if percent else _nice(peak)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    n = max(1, len(labels) - 1)

    def x(i: int) -> float:
        return round(LEFT + plot_w * i / n, 1) if len(labels) > 1 else LEFT + plot_w / 2

    def y(v: float) -> float:
        return round(TOP + plot_h * (1 - v / top_value), 1)

    drawn = [
        Series(
            key, label, f"s{i + 1}", " ".join(f"{x(j)},{y(v)}" for j, v in enumerate(values)), list(values)
        )
        for i, (key, label, values) in enumerate(series)
    ]
    y_ticks = [
        (y(top_value * k / 4), f"{round(100 * k / 4)} %" if percent else f"{top_value * k / 4:g}")
        for k in range(5)
    ]
    step = max(1, len(labels) // 6)
    x_ticks = [(x(i), labels[i]) for i in range(0, len(labels), step)]
    return Chart(title, list(labels), drawn, y_ticks, x_ticks)


def _nice(peak: float) -> float:
    """The smallest of 1, 2 or 5 times 10^k at or above ``peak``."""
    scale = 1.0
    while True:
        for m in (1, 2, 5):
            if m * scale >= peak:
                return m * scale
        scale *= 10


DAILY = ("tasks", "started", "submitted", "reminded", "opened")


def daily(rows: Sequence[Mapping[str, Any]], language: str) -> Chart:
    """Tasks opened, started and submitted and reminders sent and opened, per Oslo day."""
    labels = [row["date"].isoformat() for row in rows]
    return line_chart(
        translate(language, "stats.daily_title"),
        labels,
        [(k, translate(language, f"stats.{k}"), [float(row[k]) for row in rows]) for k in DAILY],
    )


def cumulative_rate(rows: Sequence[Mapping[str, Any]], tasks: int, language: str) -> Chart:
    """The share of the wave's tasks submitted by the end of each day."""
    total, values = 0, []
    for row in rows:
        total += row["submitted"]
        values.append(total / tasks if tasks else 0.0)
    labels = [row["date"].isoformat() for row in rows]
    return line_chart(
        translate(language, "stats.cumulative_title"),
        labels,
        [("rate", translate(language, "stats.response_rate"), values)],
        percent=True,
    )
