"""The loop's chart, as data for Chart.js (see labeling/charts.py for the spec): model quality
against labels collected, one line per metric, on a numeric x axis."""

from labeling.charts import LINE_COLOURS


def quality_vs_labels(series: dict[str, list[tuple[float, float]]]) -> dict | None:
    """Lines with points, y on 0..1, x = labels collected. None when no version has a metric."""
    if not any(series.values()):
        return None
    return {
        "type": "line",
        "x": "linear",
        "x_title": "labels collected",
        "series": [
            {"label": name, "colour": colour, "points": [[x, y] for x, y in sorted(values)]}
            for colour, (name, values) in zip(LINE_COLOURS, series.items(), strict=False)
        ],
        "y": {"min": 0, "max": 1, "title": "score"},
    }
