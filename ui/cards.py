"""Rendering comments: quote cards (escaped HTML) and sortable tables (text-only cells)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import pandas as pd
import streamlit as st

from ui.text import quote_card_html

COLUMN_NAMES_JA: dict[str, str] = {
    "comment_id": "ID",
    "text": "コメント",
    "label": "テーマ",
    "broad_label": "大きなテーマ",
    "strength": "当てはまりの強さ",
    "similarity": "類似度",
    "left": "前の文脈",
    "word": "語",
    "right": "後の文脈",
    "note": "メモ",
    "size": "件数",
    "keywords": "キーワード",
    "n_categories": "現れる値の数",
    "categories": "現れる値",
    "kind": "種類",
    "top_category": "特に多い値",
    "top_residual": "標準化残差（最大）",
}


def _emphasis(row: Mapping) -> list[str]:
    e = row.get("emphasis")
    return list(e) if isinstance(e, (list, tuple)) else []


def _card(row: Mapping, attributes: Sequence[str], theme: str | None, extra: str | None,
          query_words: Iterable[str], spans: Iterable[tuple[int, int]] = (),
          colors: Mapping[str, Mapping[str, str]] | None = None) -> str:
    return quote_card_html(
        row["text"],
        attributes=[(a, row.get(a)) for a in attributes if a in row],
        emphasis=_emphasis(row),
        theme=theme,
        comment_id=str(row.get("comment_id", "")),
        extra=extra,
        query_words=query_words,
        spans=spans,
        colors=colors,
    )


def quote_card(row: Mapping, attributes: Sequence[str] = (), theme: str | None = None, extra: str | None = None,
               query_words: Iterable[str] = (), spans: Iterable[tuple[int, int]] = (),
               colors: Mapping[str, Mapping[str, str]] | None = None) -> None:
    """One comment as a card: a badge per attribute of the run (in the run's value colours,
    ``PageContext.value_colors``), the editors' emphasis highlighted."""
    st.html(_card(row, attributes, theme, extra, query_words, spans, colors))


def quote_cards(
    rows: pd.DataFrame,
    attributes: Sequence[str] = (),
    show_theme: bool = False,
    query_words: Iterable[str] = (),
    extra_col: str | None = None,
    extra_fmt: str = "{:.2f}",
    extra_label: str = "",
    colors: Mapping[str, Mapping[str, str]] | None = None,
) -> None:
    """Several cards in one ``st.html`` (fewer elements, faster page)."""
    if rows.empty:
        return
    words = list(query_words)
    parts = []
    for _, r in rows.iterrows():
        extra = None
        if extra_col and extra_col in r and pd.notna(r[extra_col]):
            extra = extra_label + extra_fmt.format(r[extra_col])
        parts.append(_card(r, attributes, r.get("label") if show_theme else None, extra, words, colors=colors))
    st.html("".join(parts))


def comments_table(
    df: pd.DataFrame,
    columns: list[str] | None = None,
    height: int | str = "auto",
    key: str | None = None,
    **kwargs,
) -> object:
    """A sortable table of comments with Japanese headers (cells are always plain text)."""
    cols = [c for c in (columns or ["comment_id", "text", "label"]) if c in df.columns]
    view = df[cols].copy()
    for c in view.columns:
        if view[c].map(lambda v: isinstance(v, (list, tuple))).any():
            view[c] = view[c].map(lambda v: "、".join(map(str, v)) if isinstance(v, (list, tuple)) else v)
    config = {}
    if "text" in cols:
        config["text"] = st.column_config.TextColumn(COLUMN_NAMES_JA["text"], width="large")
    if "similarity" in cols:
        config["similarity"] = st.column_config.NumberColumn(COLUMN_NAMES_JA["similarity"], format="%.2f")
    if "strength" in cols:
        config["strength"] = st.column_config.ProgressColumn(
            COLUMN_NAMES_JA["strength"], min_value=0.0, max_value=1.0, format="%.2f"
        )
    for c in cols:
        config.setdefault(c, st.column_config.Column(COLUMN_NAMES_JA.get(c, c)))
    return st.dataframe(view, column_config=config, hide_index=True, height=height, key=key, **kwargs)
