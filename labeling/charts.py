"""The dashboards' charts, as data for Chart.js (vendored under static/vendor, drawn by
static/js/charts.js): a real time axis for per-day series, tooltips, readable labels.

Each builder returns a spec (plain JSON-able dict) that a template writes with `json_script`
next to a `<canvas data-chart=...>`, or `None` when there is nothing to draw, so the template
shows instead what would fill the chart. Spec: `type` ("line" or "bar"), `x` ("time",
"linear" or "category"), `series` (label, colour, points `[x, y]`), optional `y`
(`min`, `max`, `title`, `percent`), `x_title`, `stacked`, `horizontal`.
"""

RATING_COLOURS = {"-1": "#cf222e", "0": "#8c959f", "1": "#2da44e"}
RATING_NAMES = {"-1": "Negative", "0": "Neutral", "1": "Positive"}
LINE_COLOURS = ["#1f6feb", "#bf8700", "#2da44e", "#8250df"]


def rating_bars(rows: list[dict]) -> dict | None:
    """One horizontal 100% bar per labeler: shares of Negative / Neutral / Positive ratings.
    `rows` are the statistics' per-labeler rows (`username`, `rating_shares` by "-1"/"0"/"1")."""
    rows = [r for r in rows if any(r["rating_shares"].get(k) for k in RATING_NAMES)]
    if not rows:
        return None
    return {
        "type": "bar",
        "x": "category",
        "horizontal": True,
        "stacked": True,
        "labels": [str(r["username"]) for r in rows],
        "series": [
            {
                "label": RATING_NAMES[key],
                "colour": RATING_COLOURS[key],
                "points": [
                    [str(r["username"]), round(100 * (r["rating_shares"].get(key) or 0), 1)]
                    for r in rows
                ],
            }
            for key in ("-1", "0", "1")
        ],
        "y": {"min": 0, "max": 100, "title": "share of the annotator's ratings", "percent": True},
    }


def columns(points: list[tuple[str, float]], title: str) -> dict | None:
    """Bars on a time axis, one per day (`points`: ISO date, value); days without a value
    leave a gap, as the time between them."""
    if not points:
        return None
    return {
        "type": "bar",
        "x": "time",
        "series": [{"label": title, "colour": LINE_COLOURS[0], "points": list(map(list, points))}],
        "y": {"min": 0, "title": title.lower()},
    }


def lines(series: dict[str, list[tuple[str, float | None]]], y_title: str = "") -> dict | None:
    """Lines on a time axis (agreement over time: ISO date, value); None values are gaps.
    The y axis runs from 0 (or the lowest value, when below: Krippendorff's alpha can be
    negative) to 1."""
    kept = {name: [[x, y] for x, y in points if y is not None] for name, points in series.items()}
    if not any(kept.values()):
        return None
    lowest = min((y for points in kept.values() for _, y in points), default=0)
    return {
        "type": "line",
        "x": "time",
        "series": [
            {"label": name, "colour": colour, "points": points}
            for colour, (name, points) in zip(LINE_COLOURS, kept.items(), strict=False)
        ],
        "y": {"min": min(0, round(lowest - 0.05, 1)), "max": 1, "title": y_title},
    }
