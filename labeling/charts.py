"""Small server-rendered SVG charts for the dashboards (no JavaScript chart library needed).

Every text that comes from data is escaped; the result is marked safe for templates.
"""

from html import escape

from django.utils.safestring import SafeString, mark_safe

RATING_COLOURS = {"-1": "#cf222e", "0": "#8c959f", "1": "#2da44e"}
RATING_NAMES = {"-1": "Negative", "0": "Neutral", "1": "Positive"}


def rating_bars(rows: list[dict], width: int = 640) -> SafeString:
    """One horizontal 100% bar per labeler: shares of Negative / Neutral / Positive."""
    label_width, bar_height, gap = 140, 18, 6
    height = max(1, len(rows)) * (bar_height + gap) + 24
    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" width="100%" '
        f'aria-label="Rating distribution per annotator">'
    ]
    span = width - label_width - 10
    for i, row in enumerate(rows):
        y = i * (bar_height + gap)
        parts.append(
            f'<text x="0" y="{y + 13}" font-size="12">{escape(str(row["username"]))}</text>'
        )
        x = label_width
        for key in ("-1", "0", "1"):
            share = row["rating_shares"].get(key) or 0
            w = share * span
            if w > 0:
                parts.append(
                    f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{bar_height}" '
                    f'fill="{RATING_COLOURS[key]}"><title>{RATING_NAMES[key]}: '
                    f"{share:.0%}</title></rect>"
                )
            x += w
    legend_y = height - 6
    for j, key in enumerate(("-1", "0", "1")):
        parts.append(
            f'<rect x="{label_width + j * 90}" y="{legend_y - 10}" width="10" height="10" '
            f'fill="{RATING_COLOURS[key]}"/><text x="{label_width + j * 90 + 14}" '
            f'y="{legend_y}" font-size="11">{RATING_NAMES[key]}</text>'
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # every data string above is escaped


def columns(points: list[tuple[str, float]], title: str, width: int = 640) -> SafeString:
    """Vertical bars, e.g. labelings per day."""
    height, bottom = 160, 20
    top = max((v for _, v in points), default=0) or 1
    bar = max(2.0, (width - 40) / max(1, len(points)) - 2)
    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" width="100%" '
        f'aria-label="{escape(title)}">'
    ]
    for i, (label, value) in enumerate(points):
        h = (height - bottom - 10) * value / top
        x = 30 + i * (bar + 2)
        parts.append(
            f'<rect x="{x:.1f}" y="{height - bottom - h:.1f}" width="{bar:.1f}" height="{h:.1f}"'
            f' fill="#1f6feb"><title>{escape(label)}: {value:g}</title></rect>'
        )
    parts.append(f'<text x="0" y="12" font-size="11">{top:g}</text>')
    if points:
        parts.append(
            f'<text x="30" y="{height - 4}" font-size="11">{escape(points[0][0])}</text>'
            f'<text x="{width - 80}" y="{height - 4}" font-size="11">'
            f"{escape(points[-1][0])}</text>"
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # data strings are escaped


def lines(series: dict[str, list[tuple[str, float | None]]], width: int = 640) -> SafeString:
    """Lines on a 0..1 scale (agreement over time); None values are skipped."""
    height, left, bottom = 180, 34, 22
    colours = ["#1f6feb", "#bf8700", "#2da44e"]
    length = max((len(points) for points in series.values()), default=0)
    step = (width - left - 10) / max(1, length - 1)
    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" width="100%" '
        f'aria-label="Agreement over time">'
    ]
    for tick in (0, 0.5, 1):
        y = (height - bottom) - tick * (height - bottom - 10)
        parts.append(
            f'<line x1="{left}" x2="{width}" y1="{y:.1f}" y2="{y:.1f}" stroke="#d8dee5"/>'
            f'<text x="0" y="{y + 4:.1f}" font-size="11">{tick:g}</text>'
        )
    for colour, (name, points) in zip(colours, series.items(), strict=False):
        coords = [
            f"{left + i * step:.1f},{(height - bottom) - max(0, v) * (height - bottom - 10):.1f}"
            for i, (_, v) in enumerate(points)
            if v is not None
        ]
        if coords:
            parts.append(
                f'<polyline fill="none" stroke="{colour}" stroke-width="2" '
                f'points="{" ".join(coords)}"><title>{escape(name)}</title></polyline>'
            )
    for j, (colour, name) in enumerate(zip(colours, series, strict=False)):
        parts.append(
            f'<rect x="{left + j * 200}" y="{height - 12}" width="10" height="10" '
            f'fill="{colour}"/><text x="{left + j * 200 + 14}" y="{height - 3}" '
            f'font-size="11">{escape(name)}</text>'
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # data strings are escaped
