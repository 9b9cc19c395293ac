"""Charts as inline SVG, drawn on the server: no script, no CDN, readable without a browser plug-in.

Every plotted mark carries its value (``data-value``) and a ``<title>`` tooltip, and every label is escaped
(department, agent and source names are people's input).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from markupsafe import Markup, escape

BAR_H, GAP, LABEL_W, PLOT_W, VALUE_W = 22, 6, 220, 420, 90


def _num(v: float) -> str:
    return f"{v:.0f}" if float(v).is_integer() else f"{v:.1f}"


def _label(text: object, limit: int = 34) -> str:
    s = "—" if text is None or text == "" else str(text)
    return s if len(s) <= limit else s[: limit - 1] + "…"


def bar_chart(items: Sequence[tuple[object, float, float]], *, title: str, first: str, second: str | None = None,
              fmt: Callable[[float], str] = _num, css: str = "", legend: bool = True) -> Markup:
    """Horizontal bars: per item a main bar (``first``) and, when ``second`` is named, a darker bar inside it."""
    top = max((max(float(v), float(w or 0)) for _, v, w in items), default=0.0) or 1.0
    height = max(1, len(items)) * (BAR_H + GAP) + 30
    width = LABEL_W + PLOT_W + VALUE_W
    out = [f'<svg class="chart bars {escape(css)}" role="img" viewBox="0 0 {width} {height}" width="{width}" '
           f'height="{height}" xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>']
    key = f'<rect x="{LABEL_W}" y="4" width="12" height="12" class="s1"/><text x="{LABEL_W + 16}" y="15">' \
             f'{escape(first)}</text>'
    if second:
        key += f'<rect x="{LABEL_W + 200}" y="4" width="12" height="12" class="s2"/>' \
                  f'<text x="{LABEL_W + 216}" y="15">{escape(second)}</text>'
    if legend:
        out.append(f'<g class="legend">{key}</g>')
    for i, (label, value, inner) in enumerate(items):
        y = 26 + i * (BAR_H + GAP)
        w = PLOT_W * float(value) / top
        out.append(f'<g class="bar" data-label="{escape(str(label))}">')
        out.append(f'<text class="label" x="{LABEL_W - 6}" y="{y + BAR_H * 0.7:.1f}" text-anchor="end">'
                   f'{escape(_label(label))}</text>')
        out.append(f'<rect class="s1" x="{LABEL_W}" y="{y}" width="{w:.1f}" height="{BAR_H}" '
                   f'data-value="{escape(fmt(float(value)))}"><title>{escape(str(label))}: {escape(first)} '
                   f'{escape(fmt(float(value)))}</title></rect>')
        text = fmt(float(value))
        if second is not None:
            w2 = PLOT_W * float(inner or 0) / top
            out.append(f'<rect class="s2" x="{LABEL_W}" y="{y + 5}" width="{w2:.1f}" height="{BAR_H - 10}" '
                       f'data-value="{escape(fmt(float(inner or 0)))}"><title>{escape(str(label))}: '
                       f'{escape(second)} {escape(fmt(float(inner or 0)))}</title></rect>')
            text += f" / {fmt(float(inner or 0))}"
        out.append(f'<text class="value" x="{LABEL_W + w + 6:.1f}" y="{y + BAR_H * 0.7:.1f}">{escape(text)}</text>')
        out.append("</g>")
    if not items:
        out.append(f'<text x="{LABEL_W}" y="45" class="empty">—</text>')
    out.append("</svg>")
    return Markup("".join(out))  # noqa: S704 - every text put in above went through escape()


def heat_map(grid: Sequence[Sequence[int]], *, rows: Sequence[str], title: str, unit: str) -> Markup:
    """Weekday rows × 24 hour columns; the darker the cell, the more calls (the count is written in it)."""
    cell, left, head = 34, 40, 22
    width, height = left + 24 * cell + 4, head + len(rows) * cell + 4
    top = max((v for row in grid for v in row), default=0) or 1
    out = [f'<svg class="chart heat" role="img" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
           f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>']
    for h in range(24):
        out.append(f'<text class="hour" x="{left + h * cell + cell / 2:.0f}" y="15" text-anchor="middle">{h}</text>')
    for d, name in enumerate(rows):
        y = head + d * cell
        out.append(f'<text class="day" x="{left - 6}" y="{y + cell * 0.62:.1f}" text-anchor="end">'
                   f'{escape(name)}</text>')
        for h in range(24):
            v = int(grid[d][h])
            level = 0 if v == 0 else 1 + min(4, int(4 * v / top))
            x = left + h * cell
            out.append(f'<g class="cell"><rect class="l{level}" x="{x}" y="{y}" width="{cell - 2}" '
                       f'height="{cell - 2}" data-day="{d}" data-hour="{h}" data-value="{v}">'
                       f'<title>{escape(name)} {h:02d}:00–{h:02d}:59: {v} {escape(unit)}</title></rect>')
            if v:
                out.append(f'<text class="n{" light" if level >= 4 else ""}" x="{x + (cell - 2) / 2:.1f}" '
                           f'y="{y + cell * 0.6:.1f}" text-anchor="middle">{v}</text>')
            out.append("</g>")
    out.append("</svg>")
    return Markup("".join(out))  # noqa: S704 - every text put in above went through escape()
