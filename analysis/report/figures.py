"""What every plotly figure of the project shares: Japanese toolbar and labels, safe text, colours, layout.

plotly renders a subset of HTML in hover labels, legends and tick labels, and comment text and theme
names come from users, so every user string goes through :func:`escape_html` (hover text additionally
through :func:`hover_text`, which inserts its own ``<br>`` line breaks). The builders are in
:mod:`analysis.report.charts`.
"""

from __future__ import annotations

import html
import unicodedata
from collections.abc import Sequence
from typing import Any

import plotly.graph_objects as go

from ..schema import FONT_FAMILY, NOISE, PALETTE, theme_color

__all__ = ["LABELS_JA", "PLOTLY_JA", "plotly_config", "escape_html", "wrap_text", "hover_text", "shorten", "SYMBOLS",
           "theme_color_map", "theme_symbol", "base_layout", "integer_axis"]

LABELS_JA: dict[str, str] = {
    "theme": "テーマ",
    "broad": "大きなテーマ",
    "count": "件数",
    "share": "割合",
    "residual": "標準化残差",
}

#: plotly.js's own toolbar and messages in Japanese. Streamlit's bundled plotly.js registers only
#: English; a chart's config may carry a dictionary (plotly looks up ``_context.locales[locale]``
#: before its registry), so no extra JavaScript or CDN is needed.
PLOTLY_JA: dict[str, str] = {
    "Autoscale": "全体を表示",
    "Box Select": "四角で囲んで選ぶ",
    "Compare data on hover": "マウスを乗せた位置の値を比べる",
    "Download plot": "画像として保存",
    "Download plot as a PNG": "画像（PNG）として保存",
    "Download plot as JSON": "データ（JSON）として保存",
    "Lasso Select": "投げ縄で囲んで選ぶ",
    "Pan": "動かす",
    "Reset": "元に戻す",
    "Reset axes": "表示を元に戻す",
    "Reset view": "表示を元に戻す",
    "Reset views": "表示を元に戻す",
    "Show closest data on hover": "マウスを乗せた点の内容を表示",
    "Toggle Spike Lines": "補助線の表示を切り替える",
    "Toggle show closest data on hover": "マウスを乗せた点の表示を切り替える",
    "Zoom": "拡大する範囲を選ぶ",
    "Zoom in": "拡大",
    "Zoom out": "縮小",
    "Image download succeeded": "画像を保存しました",
    "Preparing image - this may take a few seconds": "画像を準備しています（数秒かかります）",
    "Sorry, there was a problem downloading your image!": "画像を保存できませんでした",
    "Double-click to zoom back out": "ダブルクリックで元の大きさに戻ります",
    "incoming flow count:": "流入する件数:",
    "outgoing flow count:": "流出する件数:",
    "source:": "元:",
    "target:": "先:",
}


def plotly_config(**overrides: Any) -> dict[str, Any]:
    """``config`` for ``st.plotly_chart`` / ``fig.to_html``: Japanese toolbar, no plotly logo."""
    cfg: dict[str, Any] = {
        "locale": "ja",
        "locales": {"ja": {"dictionary": PLOTLY_JA, "format": {"decimal": ".", "thousands": ","}}},
        "displaylogo": False,
    }
    cfg.update(overrides)
    return cfg


# --------------------------------------------------------------------------- text safety


def escape_html(text: Any) -> str:
    """HTML-escape any value for plotly text (legend names, tick labels, hover)."""
    return html.escape("" if text is None else str(text), quote=True)


def _char_width(ch: str) -> int:
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def wrap_text(text: str, width: int = 40) -> list[str]:
    """Split ``text`` into display lines of at most ``width`` columns (full-width chars count 2).

    Japanese has no spaces to break at, so lines are cut by display width; existing line
    breaks are kept.
    """
    lines: list[str] = []
    for para in str(text).splitlines() or [""]:
        line, used = "", 0
        for ch in para:
            w = _char_width(ch)
            if used + w > width and line:
                lines.append(line)
                line, used = "", 0
            line += ch
            used += w
        lines.append(line)
    return lines


def hover_text(text: str, width: int = 40, max_lines: int = 12) -> str:
    """Escaped, wrapped text for a plotly hover label (``<br>`` between lines, ``…`` if cut)."""
    lines = wrap_text(text, width)
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] = lines[-1] + "…"
    return "<br>".join(escape_html(line) for line in lines)


def shorten(text: str, width: int = 24) -> str:
    """``text`` cut to ``width`` display columns with ``…`` (legend entries, tick labels)."""
    lines = wrap_text(str(text).replace("\n", " "), width)
    return lines[0] + ("…" if len(lines) > 1 else "")


# --------------------------------------------------------------------------- colours

#: Marker shapes cycle after each round of the palette, so theme 3 and theme 27 share a colour but
#: not a shape.
SYMBOLS: tuple[str, ...] = ("circle", "square", "diamond", "triangle-up", "cross", "star")


def theme_color_map(clusters: Sequence[int]) -> dict[int, str]:
    """Colour per theme id (noise grey): fixed for the life of a run, whatever a filter shows."""
    return {int(c): theme_color(int(c)) for c in clusters}


def theme_symbol(cluster: int) -> str:
    c = int(cluster)
    return "circle-open" if c == NOISE else SYMBOLS[(c // len(PALETTE)) % len(SYMBOLS)]


def base_layout(fig: go.Figure, **kwargs: Any) -> go.Figure:
    fig.update_layout(
        font=dict(family=FONT_FAMILY, size=13),
        margin=dict(l=10, r=10, t=40, b=10),
        hoverlabel=dict(font=dict(family=FONT_FAMILY, size=13), align="left"),
        separators=".,",
        **kwargs,
    )
    return fig


def integer_axis(axis_update, max_value: float) -> None:
    """Counts are whole comments: ticks 0, 1, 2 … for small counts, integer labels otherwise."""
    if max_value <= 10:
        axis_update(dtick=1, tick0=0, tickformat="d", rangemode="tozero")
    else:
        axis_update(tickformat=",d", rangemode="tozero")


# --------------------------------------------------------------------------- theme map
