"""The replay's chart, drawn on the server as SVG: per agent, the real and the simulated number of inquiries
side by side. Names are escaped; the markup is safe to put in a page as it is."""

from __future__ import annotations

from html import escape

from markupsafe import Markup

REAL, SIMULATED = "#90a4ae", "#1565c0"
LEGEND = {"ru": ("было", "с черновиком", "Обращений по сотрудникам: было и с черновиком"),
          "en": ("real", "with the draft", "Inquiries per agent: real and with the draft")}


def bars_svg(rows: list[tuple[str, int, int]], locale: str = "ru") -> Markup:
    real_word, sim_word, title = LEGEND.get(locale, LEGEND["ru"])
    if not rows:
        return Markup("")
    label_w, bar_h, gap, width = 220, 12, 10, 760
    top = 34
    height = top + len(rows) * (2 * bar_h + gap) + 10
    peak = max(max(r, s) for _, r, s in rows) or 1
    scale = (width - label_w - 60) / peak
    out = [f'<svg class="replay-chart" id="replay-chart" role="img" aria-label="{escape(title)}" '
           f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg">',
           f"<title>{escape(title)}</title>",
           f'<rect x="{label_w}" y="6" width="12" height="12" fill="{REAL}"/>'
           f'<text x="{label_w + 18}" y="16" font-size="12">{escape(real_word)}</text>',
           f'<rect x="{label_w + 110}" y="6" width="12" height="12" fill="{SIMULATED}"/>'
           f'<text x="{label_w + 128}" y="16" font-size="12">{escape(sim_word)}</text>']
    y = top
    for name, real, simulated in rows:
        short = name if len(name) <= 30 else name[:29] + "…"
        out.append(f'<text x="{label_w - 6}" y="{y + bar_h + 4}" font-size="12" text-anchor="end">'
                   f"{escape(short)}</text>")
        for value, colour, dy, kind in ((real, REAL, 0, "real"), (simulated, SIMULATED, bar_h, "simulated")):
            w = max(value * scale, 1 if value else 0)
            out.append(f'<rect class="bar-{kind}" x="{label_w}" y="{y + dy}" width="{w:.1f}" height="{bar_h - 1}" '
                       f'fill="{colour}"><title>{escape(name)}: {value}</title></rect>'
                       f'<text x="{label_w + w + 4:.1f}" y="{y + dy + bar_h - 2}" font-size="10">{value}</text>')
        y += 2 * bar_h + gap
    out.append("</svg>")
    return Markup("".join(out))  # noqa: S704 - every text in it went through escape()
