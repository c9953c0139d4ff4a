"""Plotly figure builders shared by the dashboard pages and the notebooks (no Streamlit here).

Every builder takes plain DataFrames and returns a ``plotly.graph_objects.Figure`` with Japanese
axis labels. Comment text and theme labels come from users, and plotly renders a subset of HTML in
hover labels, legends and tick labels, so every user string goes through :func:`escape_html`
(hover text additionally through :func:`hover_text`, which inserts its own ``<br>`` line breaks).

Points of the theme map carry their ``comment_id`` (a string) as the first element of
``customdata``; :func:`selected_comment_ids` maps a Streamlit / plotly selection event back to
comments through it. Per-trace ``point_indices`` are never used because they restart at 0 in
every trace.
"""

from __future__ import annotations

import html
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

NOISE = -1
NOISE_LABEL = "未分類"
NOISE_COLOR = "#b8b8b8"

# Fixed colours for the four partnership categories of the seed, so every chart agrees.
CATEGORY_COLORS: dict[str, str] = {
    "行政×行政": "#1f77b4",
    "行政×専門機関": "#ff7f0e",
    "専門機関×専門機関": "#2ca02c",
    "行政・専門機関×地域": "#d62728",
}
ROLE_COLORS: dict[str, str] = {"行政職員": "#4c78a8", "専門機関職員": "#f58518", "未記載": "#bab0ac"}

# A long qualitative palette (Plotly's Dark24 + Light24 heads), for themes and unknown categories.
PALETTE: tuple[str, ...] = (
    "#2E91E5", "#E15F99", "#1CA71C", "#FB0D0D", "#DA16FF", "#B68100", "#750D86", "#EB663B",
    "#511CFB", "#00A08B", "#FB00D1", "#FC0080", "#B2828D", "#6C7C32", "#778AAE", "#862A16",
    "#A777F1", "#620042", "#1616A7", "#DA60CA", "#6C4516", "#0D2A63", "#AF0038", "#222A2A",
)

LABELS_JA: dict[str, str] = {
    "theme": "テーマ",
    "broad": "大きなテーマ",
    "category": "連携の分類",
    "role": "回答者",
    "count": "件数",
    "share": "割合",
    "residual": "標準化残差",
}

FONT_FAMILY = "Noto Sans CJK JP, Hiragino Sans, Yu Gothic, Meiryo, sans-serif"


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


def category_color_map(categories: Iterable[str]) -> dict[str, str]:
    """Colour per category: the fixed colours for the seed categories, the palette for others."""
    out: dict[str, str] = {}
    spare = iter(PALETTE[4:] * 4)
    for c in categories:
        if c in out:
            continue
        out[c] = CATEGORY_COLORS.get(c) or ROLE_COLORS.get(c) or next(spare)
    return out


def theme_color_map(clusters: Sequence[int]) -> dict[int, str]:
    """Colour per cluster id (noise grey), stable for a given ordering of ids."""
    out: dict[int, str] = {}
    i = 0
    for c in clusters:
        c = int(c)
        if c in out:
            continue
        if c == NOISE:
            out[c] = NOISE_COLOR
        else:
            out[c] = PALETTE[i % len(PALETTE)]
            i += 1
    return out


def _base_layout(fig: go.Figure, **kwargs: Any) -> go.Figure:
    fig.update_layout(
        font=dict(family=FONT_FAMILY, size=13),
        margin=dict(l=10, r=10, t=40, b=10),
        hoverlabel=dict(font=dict(family=FONT_FAMILY, size=13), align="left"),
        **kwargs,
    )
    return fig


# --------------------------------------------------------------------------- theme map


def theme_map(
    table: pd.DataFrame,
    color_by: str = "theme",
    highlight_ids: Iterable[str] | None = None,
    hover_width: int = 40,
    height: int = 560,
) -> go.Figure:
    """2-D scatter of comments, one trace per theme (or per category / role).

    Parameters
    ----------
    table : one row per comment with ``comment_id``, ``text``, ``x``, ``y``, ``cluster``
        (-1 = 未分類), ``label``, ``category`` and ``role`` (as :meth:`Run.table` returns).
    color_by : ``"theme"``, ``"broad"`` (needs ``broad``; optional ``broad_label``),
        ``"category"`` or ``"role"``.
    highlight_ids : comments to draw larger with a black outline (others are faded); ``None``
        highlights nothing.
    hover_width : hover line width in display columns (a full-width character counts 2).

    Each point's ``customdata`` is ``[comment_id]`` (a string); selections map back through it.
    """
    fig = go.Figure()
    hi = set(highlight_ids) if highlight_ids is not None else None
    df = table.reset_index(drop=True)
    if color_by in ("theme", "broad"):
        key = "cluster" if color_by == "theme" else "broad"
        if key not in df:
            raise KeyError(f"table has no column {key!r}")
        sizes = df[df[key] != NOISE][key].value_counts()
        order = list(sizes.index) + ([NOISE] if (df[key] == NOISE).any() else [])
        colors = theme_color_map(order)
        label_col = "label" if color_by == "theme" else ("broad_label" if "broad_label" in df else None)
        groups = []
        for g in order:
            sub = df[df[key] == g]
            if g == NOISE:
                name = NOISE_LABEL
            elif label_col:
                name = str(sub[label_col].iloc[0])
            else:
                name = f"テーマ群{g}"
            groups.append((name, colors[int(g)], sub, g == NOISE))
    elif color_by in ("category", "role"):
        values = list(dict.fromkeys(df[color_by]))
        if color_by == "category":
            from .corpus import CATEGORIES

            values = [c for c in CATEGORIES if c in values] + [c for c in values if c not in CATEGORIES]
        colors_c = category_color_map(values)
        groups = [(v, colors_c[v], df[df[color_by] == v], False) for v in values]
    else:
        raise ValueError(f"color_by must be theme, broad, category or role, not {color_by!r}")

    for name, color, sub, is_noise in groups:
        if sub.empty:
            continue
        hover = [
            f"<b>{escape_html(theme)}</b> ・ {escape_html(cat)} ・ {escape_html(role)}<br>{hover_text(t, hover_width)}"
            for t, theme, cat, role in zip(sub["text"], sub["label"], sub["category"], sub["role"])
        ]
        size = np.full(len(sub), 6.0 if is_noise else 9.0)
        line_w = np.zeros(len(sub))
        opacity = np.full(len(sub), 0.55 if is_noise else 0.85)
        if hi is not None:
            mask = sub["comment_id"].astype(str).isin(hi).to_numpy()
            size = np.where(mask, 13.0, size)
            line_w = np.where(mask, 1.5, 0.0)
            opacity = np.where(mask, 1.0, 0.25)
        fig.add_trace(
            go.Scatter(
                x=sub["x"],
                y=sub["y"],
                mode="markers",
                name=escape_html(shorten(name, 28)),
                marker=dict(
                    color=color,
                    size=size,
                    opacity=opacity,
                    symbol="circle-open" if is_noise else "circle",
                    line=dict(width=line_w, color="#000000"),
                ),
                customdata=[[str(c)] for c in sub["comment_id"]],
                hovertext=hover,
                hovertemplate="%{hovertext}<extra></extra>",
            )
        )
    fig.update_xaxes(showticklabels=False, title=None, showgrid=False, zeroline=False)
    fig.update_yaxes(showticklabels=False, title=None, showgrid=False, zeroline=False)
    return _base_layout(
        fig,
        height=height,
        dragmode="lasso",
        legend=dict(title=dict(text=LABELS_JA.get(color_by, color_by)), itemsizing="constant"),
        plot_bgcolor="#fafafa",
    )


def selected_comment_ids(event: Any) -> list[str]:
    """Comment ids of the points in a plotly selection event, in selection order, unique.

    ``event`` is what ``st.plotly_chart(..., on_select="rerun")`` returns (``{"selection":
    {"points": [...]}}``), the inner ``selection`` mapping, or a plain list of points. Each
    point's id is the first element of its ``customdata`` (or ``customdata`` itself if scalar).
    Points without customdata are ignored.
    """
    if event is None:
        return []
    points: Any = event
    if isinstance(event, Mapping) or hasattr(event, "get"):
        sel = event.get("selection", event) if hasattr(event, "get") else event
        points = sel.get("points", []) if hasattr(sel, "get") else []
    out: list[str] = []
    seen: set[str] = set()
    for p in points or []:
        if not hasattr(p, "get"):
            continue
        cd = p.get("customdata", p.get("custom_data"))
        if cd is None:
            continue
        if isinstance(cd, (list, tuple)):
            if not cd:
                continue
            cd = cd[0]
        cid = str(cd)
        if cid not in seen:
            seen.add(cid)
            out.append(cid)
    return out


# --------------------------------------------------------------------------- bars


def keyword_bar(
    words: Sequence[str],
    values: Sequence[float],
    value_label: str = "件数",
    height: int | None = None,
) -> go.Figure:
    """Horizontal bar chart of keywords, the first word on top."""
    words = [escape_html(w) for w in words]
    fig = go.Figure(
        go.Bar(
            x=list(values),
            y=words,
            orientation="h",
            marker_color="#4c78a8",
            hovertemplate="%{y}: %{x}<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed", title=None)
    fig.update_xaxes(title=value_label)
    return _base_layout(fig, height=height or max(220, 28 * len(words) + 80), showlegend=False)


def category_mix_bar(counts: pd.Series | Mapping[str, int], title: str | None = None) -> go.Figure:
    """Horizontal bars of how many comments of one theme come from each category."""
    s = pd.Series(counts, dtype=float) if not isinstance(counts, pd.Series) else counts.astype(float)
    colors = category_color_map(s.index)
    fig = go.Figure(
        go.Bar(
            x=s.values,
            y=[escape_html(c) for c in s.index],
            orientation="h",
            marker_color=[colors[c] for c in s.index],
            hovertemplate="%{y}: %{x}件<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed", title=None)
    fig.update_xaxes(title=LABELS_JA["count"], rangemode="tozero")
    return _base_layout(
        fig,
        height=max(200, 36 * len(s) + 90),
        showlegend=False,
        title=dict(text=escape_html(title)) if title else None,
    )


def category_role_bar(table: pd.DataFrame, categories: Sequence[str] | None = None) -> go.Figure:
    """Stacked bars: comments per category, split by respondent role."""
    cats = list(categories) if categories is not None else _ordered_categories(table["category"])
    roles = _ordered_roles(table["role"])
    counts = pd.crosstab(table["category"], table["role"]).reindex(index=cats, columns=roles, fill_value=0)
    colors = category_color_map(roles)
    fig = go.Figure()
    for role in roles:
        fig.add_trace(
            go.Bar(
                x=[escape_html(c) for c in counts.index],
                y=counts[role].values,
                name=escape_html(role),
                marker_color=colors[role],
                hovertemplate="%{x}<br>" + escape_html(role) + ": %{y}件<extra></extra>",
            )
        )
    fig.update_xaxes(title=LABELS_JA["category"])
    fig.update_yaxes(title=LABELS_JA["count"], rangemode="tozero")
    return _base_layout(fig, barmode="stack", height=360, legend=dict(title=dict(text=LABELS_JA["role"])))


def _ordered_categories(values: Iterable[str]) -> list[str]:
    from .corpus import CATEGORIES

    present = list(dict.fromkeys(values))
    return [c for c in CATEGORIES if c in present] + sorted(c for c in present if c not in CATEGORIES)


def _ordered_roles(values: Iterable[str]) -> list[str]:
    from .corpus import ROLES

    present = list(dict.fromkeys(values))
    return [r for r in ROLES if r in present] + sorted(r for r in present if r not in ROLES)


# --------------------------------------------------------------------------- heatmap


def category_theme_heatmap(matrix: pd.DataFrame, mode: str = "counts", max_label: int = 26) -> go.Figure:
    """Theme (rows) × category (columns) heatmap.

    Parameters
    ----------
    matrix : rows = themes (index = theme labels, already unique), columns = categories; values
        are counts, shares (0-1) or standardized residuals, as ``mode`` says.
    mode : ``"counts"`` (件数), ``"shares"`` (割合, shown as %) or ``"residuals"`` (標準化残差,
        diverging colours centred on 0: red = more than expected, blue = fewer).
    """
    if mode not in ("counts", "shares", "residuals"):
        raise ValueError(f"mode must be counts, shares or residuals, not {mode!r}")
    z = matrix.to_numpy(dtype=float)
    if mode == "counts":
        text = [[f"{v:.0f}" for v in row] for row in z]
        colorscale, zmid, cbar = "Blues", None, LABELS_JA["count"]
        fmt = "%{z:.0f}件"
    elif mode == "shares":
        text = [[f"{v * 100:.0f}%" for v in row] for row in z]
        colorscale, zmid, cbar = "Blues", None, LABELS_JA["share"]
        fmt = "%{text}"
    else:
        text = [[f"{v:+.1f}" for v in row] for row in z]
        colorscale, zmid, cbar = "RdBu_r", 0.0, LABELS_JA["residual"]
        fmt = "%{z:+.2f}"
    rows = [escape_html(shorten(r, max_label)) for r in matrix.index]
    # Shortened labels may collide; plotly would merge such rows, so make them unique.
    seen: dict[str, int] = {}
    for i, r in enumerate(rows):
        if r in seen:
            seen[r] += 1
            rows[i] = f"{r} ({seen[r]})"
        else:
            seen[r] = 1
    cols = [escape_html(c) for c in matrix.columns]
    extra: dict[str, Any] = {}
    if mode == "residuals":
        lim = max(2.0, float(np.nanmax(np.abs(z))) if z.size else 2.0)
        extra = dict(zmin=-lim, zmax=lim)
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=cols,
            y=rows,
            text=text,
            texttemplate="%{text}",
            colorscale=colorscale,
            zmid=zmid,
            colorbar=dict(title=dict(text=cbar)),
            hovertemplate="%{y}<br>%{x}<br>" + fmt + "<extra></extra>",
            xgap=1,
            ygap=1,
            **extra,
        )
    )
    fig.update_yaxes(autorange="reversed", title=LABELS_JA["theme"])
    fig.update_xaxes(title=LABELS_JA["category"], side="top")
    return _base_layout(fig, height=max(320, 30 * len(rows) + 140))
