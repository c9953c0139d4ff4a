"""Plotly figure builders shared by the dashboard pages, the report and the notebooks (no Streamlit here).

Toolbar language, safe text, colours and the shared layout are :mod:`analysis.report.figures`' (re-exported here).

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

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from ..schema import NOISE, NOISE_COLOR, NOISE_LABEL, ordered_values, theme_color
from ..schema import value_color_map as category_color_map
from .figures import (  # re-exported: callers build and configure figures through this module
    LABELS_JA,
    PLOTLY_JA,
    base_layout,
    escape_html,
    hover_text,
    integer_axis,
    plotly_config,
    shorten,
    theme_color_map,
    theme_symbol,
    wrap_text,
)

__all__ = ["theme_map", "map_sample", "selected_comment_ids", "keyword_bar", "category_mix_bar", "attribute_bar",
           "category_role_bar", "category_theme_heatmap", "category_color_map", "MAP_WEBGL_FROM", "MAP_MAX_POINTS",
           "LABELS_JA", "PLOTLY_JA", "plotly_config", "escape_html", "hover_text", "wrap_text", "shorten",
           "theme_color_map", "theme_symbol", "NOISE_COLOR"]

#: From this many points the map draws with WebGL (SVG markers make a browser crawl: 100,000 points
#: took 28 s to appear) and smaller markers.
MAP_WEBGL_FROM = 5_000
#: At most this many points are sent to the browser (a seeded sample that keeps every highlighted
#: comment): 100,000 points with their hover text were a 63 MB figure.
MAP_MAX_POINTS = 20_000


def theme_map(
    table: pd.DataFrame,
    color_by: str = "theme",
    highlight_ids: Iterable[str] | None = None,
    hover_width: int = 40,
    height: int = 560,
    attributes: Sequence[str] | None = None,
    legend: str = "right",
    value_colors: Mapping[str, Mapping[str, str]] | None = None,
) -> go.Figure:
    """2-D scatter of comments, one trace per theme (or broad theme, or value of an attribute).

    Parameters
    ----------
    table : one row per comment with ``comment_id``, ``text``, ``x``, ``y``, ``cluster``
        (-1 = 未分類), ``label`` and the attribute columns (as :meth:`Run.table` returns).
    color_by : ``"theme"``, ``"broad"`` (needs ``broad``; optional ``broad_label``) or the name of
        an attribute column.
    highlight_ids : comments to draw larger with a black outline (others are faded); ``None``
        highlights nothing.
    hover_width : hover line width in display columns (a full-width character counts 2).
    attributes : attribute columns shown in the hover (default: none).
    legend : ``"right"`` or ``"bottom"`` (narrow screens: the map keeps the full width).
    value_colors : colours per attribute value (:func:`analysis.schema.attribute_color_maps` of the
        run's whole table), so a value keeps its colour when filtered rows lack others.

    Themes keep their colour (by theme id, :func:`analysis.schema.theme_color`) whatever rows the
    table holds. Each point's ``customdata`` is ``[comment_id]`` (a string); selections map back
    through it. From :data:`MAP_WEBGL_FROM` rows the map is WebGL with smaller markers; above
    :data:`MAP_MAX_POINTS` it draws a seeded sample (:func:`map_sample`; the page says so).
    """
    fig = go.Figure()
    hi = set(highlight_ids) if highlight_ids is not None else None
    df = map_sample(table, hi)
    big = len(table) >= MAP_WEBGL_FROM
    attrs = [a for a in (attributes or []) if a in df.columns]
    if color_by in ("theme", "broad"):
        key = "cluster" if color_by == "theme" else "broad"
        if key not in df:
            raise KeyError(f"table has no column {key!r}")
        sizes = df[df[key] != NOISE][key].value_counts()
        order = sorted(sizes.index, key=lambda g: (-sizes[g], g)) + ([NOISE] if (df[key] == NOISE).any() else [])
        label_col = "label" if color_by == "theme" else ("broad_label" if "broad_label" in df else None)
        groups = []
        for g in order:
            sub = df[df[key] == g]
            name = NOISE_LABEL if g == NOISE else (str(sub[label_col].iloc[0]) if label_col else f"テーマ群{g}")
            groups.append((name, theme_color(int(g)), theme_symbol(int(g)) if color_by == "theme" else
                           ("circle-open" if g == NOISE else "circle"), sub, g == NOISE))
    elif color_by in df.columns:
        values = ordered_values(df[color_by], color_by)
        colors_c = {**category_color_map(values), **(value_colors or {}).get(color_by, {})}
        groups = [(str(v), colors_c[v], "circle", df[df[color_by] == v], False) for v in values]
    else:
        raise ValueError(f"color_by must be theme, broad or an attribute column, not {color_by!r}")

    for name, color, symbol, sub, is_noise in groups:
        if sub.empty:
            continue
        heads = ["<b>" + escape_html(theme) + "</b>" for theme in sub["label"]]
        for a in attrs:
            heads = [h + " ・ " + escape_html(v) for h, v in zip(heads, sub[a])]
        hover = [f"{h}<br>{hover_text(t, hover_width)}" for h, t in zip(heads, sub["text"])]
        size = np.full(len(sub), (3.0 if is_noise else 4.5) if big else (6.0 if is_noise else 9.0))
        line_w = np.zeros(len(sub))
        opacity = np.full(len(sub), 0.55 if is_noise else 0.85)
        if hi is not None:
            mask = sub["comment_id"].astype(str).isin(hi).to_numpy()
            size = np.where(mask, 13.0, size)
            line_w = np.where(mask, 1.5, 0.0)
            opacity = np.where(mask, 1.0, 0.25)
        fig.add_trace(
            (go.Scattergl if big else go.Scatter)(
                x=sub["x"],
                y=sub["y"],
                mode="markers",
                name=escape_html(shorten(name, 28)),
                marker=dict(color=color, size=size, opacity=opacity, symbol=symbol,
                            line=dict(width=line_w, color="#000000")),
                customdata=[[str(c)] for c in sub["comment_id"]],
                hovertext=hover,
                hovertemplate="%{hovertext}<extra></extra>",
            )
        )
    fig.update_xaxes(showticklabels=False, title=None, showgrid=False, zeroline=False)
    fig.update_yaxes(showticklabels=False, title=None, showgrid=False, zeroline=False)
    title = LABELS_JA.get(color_by, color_by)
    if legend == "bottom":
        leg = dict(title=dict(text=escape_html(title)), itemsizing="constant", orientation="h", yanchor="top",
                   y=-0.02, xanchor="left", x=0)
    else:
        leg = dict(title=dict(text=escape_html(title)), itemsizing="constant")
    return base_layout(fig, height=height, dragmode="lasso", legend=leg, plot_bgcolor="#fafafa")


def map_sample(table: pd.DataFrame, keep: Iterable[str] | None = None, limit: int = MAP_MAX_POINTS) -> pd.DataFrame:
    """The rows the map draws: all of them up to ``limit``, else a sample of ``limit`` rows drawn
    with a fixed seed (so a theme keeps its share, and the same rows show on every rerun) plus
    every row whose ``comment_id`` is in ``keep``."""
    df = table.reset_index(drop=True)
    if len(df) <= limit:
        return df
    rng = np.random.default_rng(0)
    take = np.zeros(len(df), dtype=bool)
    take[rng.choice(len(df), size=limit, replace=False)] = True
    if keep:
        take |= df["comment_id"].astype(str).isin(set(keep)).to_numpy()
    return df[take].reset_index(drop=True)


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
    """Horizontal bar chart of keywords (counts of comments), the first word on top."""
    words = [escape_html(w) for w in words]
    vals = list(values)
    fig = go.Figure(
        go.Bar(x=vals, y=words, orientation="h", marker_color="#4c78a8", hovertemplate="%{y}: %{x}件<extra></extra>")
    )
    fig.update_yaxes(autorange="reversed", title=None)
    fig.update_xaxes(title=escape_html(value_label))
    integer_axis(fig.update_xaxes, max(vals, default=0))
    return base_layout(fig, height=height or max(220, 28 * len(words) + 80), showlegend=False)


def category_mix_bar(counts: pd.Series | Mapping[str, int], title: str | None = None,
                     colors: Mapping[str, str] | None = None) -> go.Figure:
    """Horizontal bars of how many comments of one theme have each value of an attribute
    (``colors``: the attribute's value colours, as the other charts of the run use)."""
    s = pd.Series(counts, dtype=float) if not isinstance(counts, pd.Series) else counts.astype(float)
    colors = {**category_color_map(list(s.index)), **(colors or {})}
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
    fig.update_xaxes(title=LABELS_JA["count"])
    integer_axis(fig.update_xaxes, float(s.max()) if len(s) else 0.0)
    return base_layout(
        fig,
        height=max(200, 36 * len(s) + 90),
        showlegend=False,
        title=dict(text=escape_html(title)) if title else None,
    )


def attribute_bar(table: pd.DataFrame, x: str, stack: str | None = None,
                  value_colors: Mapping[str, Mapping[str, str]] | None = None) -> go.Figure:
    """Bars: comments per value of attribute ``x``, stacked by the values of ``stack`` (optional);
    ``value_colors`` as in :func:`theme_map`."""
    fixed = value_colors or {}
    xs = ordered_values(table[x], x)
    fig = go.Figure()
    if stack is None or stack not in table.columns or stack == x:
        counts = table[x].value_counts().reindex(xs, fill_value=0)
        colors = {**category_color_map(xs), **fixed.get(x, {})}
        fig.add_trace(go.Bar(x=[escape_html(v) for v in xs], y=counts.values, marker_color=[colors[v] for v in xs],
                             hovertemplate="%{x}: %{y}件<extra></extra>"))
        top = float(counts.max()) if len(counts) else 0.0
    else:
        ss = ordered_values(table[stack], stack)
        counts = pd.crosstab(table[x], table[stack]).reindex(index=xs, columns=ss, fill_value=0)
        colors = {**category_color_map(ss), **fixed.get(stack, {})}
        for v in ss:
            fig.add_trace(go.Bar(x=[escape_html(c) for c in counts.index], y=counts[v].values, name=escape_html(v),
                                 marker_color=colors[v],
                                 hovertemplate="%{x}<br>" + escape_html(v) + ": %{y}件<extra></extra>"))
        top = float(counts.sum(axis=1).max()) if len(counts) else 0.0
    fig.update_xaxes(title=escape_html(x))
    fig.update_yaxes(title=LABELS_JA["count"])
    integer_axis(fig.update_yaxes, top)
    legend = dict(title=dict(text=escape_html(stack))) if stack else None
    return base_layout(fig, barmode="stack", height=360, legend=legend, showlegend=bool(stack))


# The seed's two attributes, for callers written before attributes were general.
def category_role_bar(table: pd.DataFrame, categories: Sequence[str] | None = None) -> go.Figure:
    from ..schema import SEED_CATEGORY, SEED_ROLE

    return attribute_bar(table, SEED_CATEGORY, SEED_ROLE)


# --------------------------------------------------------------------------- heatmap


def category_theme_heatmap(matrix: pd.DataFrame, mode: str = "counts", max_label: int = 26,
                           attribute: str = "", marks: pd.DataFrame | None = None) -> go.Figure:
    """Theme (rows) × attribute value (columns) heatmap.

    Parameters
    ----------
    matrix : rows = themes (index = theme labels, already unique), columns = values of ``attribute``;
        values are counts, shares (0-1) or standardized residuals, as ``mode`` says.
    attribute : the column axis title (e.g. 連携の分類, 地区).
    marks : optional same-shape table of short strings appended to each cell's text (e.g. 「*」 for a
        significant cell, 「△」 for a small expected count).
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
    if marks is not None:
        mk = marks.reindex(index=matrix.index, columns=matrix.columns).fillna("").to_numpy()
        text = [[t + str(m) for t, m in zip(trow, mrow)] for trow, mrow in zip(text, mk)]
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
    fig.update_xaxes(title=escape_html(attribute) or None, side="top")
    return base_layout(fig, height=max(320, 30 * len(rows) + 140))
