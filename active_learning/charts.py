"""Server-rendered SVG: model quality against labels collected (numeric x axis)."""

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

COLOURS = ["#1f6feb", "#bf8700", "#2da44e"]


def quality_vs_labels(
    series: dict[str, list[tuple[float, float]]], width: int = 640, height: int = 220
) -> SafeString:
    """Lines with points, y on 0..1, x = labels collected (0 to the most labels)."""
    left, right, top, bottom = 38, 12, 10, 40
    points = [p for values in series.values() for p in values]
    if not points:
        return mark_safe("")
    x_max = max(x for x, _ in points) or 1
    plot_w, plot_h = width - left - right, height - top - bottom

    def sx(x):
        return left + plot_w * x / x_max

    def sy(y):
        return top + plot_h * (1 - max(0.0, min(1.0, y)))

    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" width="100%" '
        'aria-label="Model quality against labels collected">'
    ]
    for tick in (0, 0.25, 0.5, 0.75, 1):
        parts.append(
            f'<line x1="{left}" x2="{width - right}" y1="{sy(tick):.1f}" y2="{sy(tick):.1f}" '
            f'stroke="#d8dee5"/><text x="2" y="{sy(tick) + 4:.1f}" font-size="11">{tick:g}</text>'
        )
    for tick in range(5):
        x = x_max * tick / 4
        parts.append(
            f'<text x="{sx(x):.1f}" y="{top + plot_h + 14}" font-size="11" '
            f'text-anchor="middle">{x:.0f}</text>'
        )
    parts.append(
        f'<text x="{left + plot_w / 2:.1f}" y="{top + plot_h + 27}" font-size="11" '
        'text-anchor="middle">labels collected</text>'
    )
    for colour, (name, values) in zip(COLOURS, series.items(), strict=False):
        coords = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in sorted(values))
        parts.append(
            f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{coords}">'
            f"<title>{escape(name)}</title></polyline>"
        )
        for x, y in values:
            parts.append(
                f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="3" fill="{colour}">'
                f"<title>{escape(name)}: {y:.3f} at {x:.0f} labels</title></circle>"
            )
    for j, (colour, name) in enumerate(zip(COLOURS, series, strict=False)):
        parts.append(
            f'<rect x="{left + j * 200}" y="{height - 11}" width="10" height="10" '
            f'fill="{colour}"/><text x="{left + j * 200 + 14}" y="{height - 2}" '
            f'font-size="11">{escape(name)}</text>'
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # names are escaped; numbers are formatted
