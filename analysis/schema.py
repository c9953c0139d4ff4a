"""The project's small vocabulary, in one place: column names, noise, orders, colours, thresholds.

Every other module (and the dashboard) imports these names instead of spelling ``-1``, 「未分類」,
a palette or a threshold again.

Comment tables
--------------
A comment table has the core columns :data:`CORE_COLUMNS` followed by any number of *attribute*
columns (grouping values such as 連携の分類, 回答者, 年度, 地区, 年代). Attribute columns are named
by their display name (the user's header), so what a CSV shows is what the dashboard shows. The
seed's two attributes are :data:`SEED_CATEGORY` and :data:`SEED_ROLE`.

Clusters
--------
Themes are numbered ``0..k-1`` by decreasing size; :data:`NOISE` (``-1``) means the comment sits
between themes and is shown as :data:`NOISE_LABEL` (未分類).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Iterable, Sequence

# --------------------------------------------------------------------------- clusters

NOISE = -1
NOISE_LABEL = "未分類"
NOISE_COLOR = "#b8b8b8"

# --------------------------------------------------------------------------- comment tables

CORE_COLUMNS: tuple[str, ...] = (
    "comment_id",  # stable string id (c001 … or the user's id column)
    "text",  # the comment as written (display)
    "text_norm",  # NFKC, one line (analysis)
    "emphasis",  # phrases the editors set in bold (seed only), list of str
    "position",  # 0-based order in the source
    "source_line",  # 1-based line (seed document) or row (user file, as a spreadsheet counts)
)
#: Columns a run adds per comment (assignments.csv).
ASSIGNMENT_COLUMNS: tuple[str, ...] = (
    "comment_id", "cluster", "strength", "nearest_cluster", "nearest_strength", "x", "y", "broad",
)
#: Columns of clusters.csv.
CLUSTER_COLUMNS: tuple[str, ...] = (
    "cluster", "label", "auto_label", "keywords", "size", "parent", "parent_label", "n_categories", "persistence",
)
#: Reserved names an attribute may not take (it would shadow a column the program owns).
RESERVED_COLUMNS: frozenset[str] = frozenset(
    CORE_COLUMNS + ASSIGNMENT_COLUMNS + CLUSTER_COLUMNS
    + ("label", "nearest_label", "broad_label", "_row", "similarity", "note", "run_id", "masked", "curated")
)

SEED_CATEGORY = "連携の分類"
SEED_ROLE = "回答者"
SEED_ATTRIBUTES: tuple[str, ...] = (SEED_CATEGORY, SEED_ROLE)
CATEGORIES: tuple[str, ...] = ("行政×行政", "行政×専門機関", "専門機関×専門機関", "行政・専門機関×地域")
ROLE_GOV = "行政職員"
ROLE_AGENCY = "専門機関職員"
UNKNOWN = "未記載"
ROLES: tuple[str, ...] = (ROLE_GOV, ROLE_AGENCY, UNKNOWN)
#: Canonical value order for the seed's attributes; other attributes sort naturally.
CANONICAL_ORDER: dict[str, tuple[str, ...]] = {SEED_CATEGORY: CATEGORIES, SEED_ROLE: ROLES}

KEYWORD_SEP = "、"
LABEL_SEP = "・"


def attribute_column_name(header: str, taken: Iterable[str] = ()) -> str:
    """A safe column name for an attribute headed ``header`` in the user's file.

    Reserved names get 「（属性）」 appended; empty headers become 「属性」; clashes get a number.
    """
    name = unicodedata.normalize("NFKC", str(header)).strip().replace("\n", " ") or "属性"
    if name in RESERVED_COLUMNS:
        name = f"{name}（属性）"
    used = set(taken)
    base, i = name, 2
    while name in used:
        name, i = f"{base}_{i}", i + 1
    return name


_NUM = re.compile(r"(\d+(?:\.\d+)?)")


def _natural_key(value: object) -> tuple:
    s = unicodedata.normalize("NFKC", str(value))
    parts = _NUM.split(s)
    return tuple((0, float(p), "") if i % 2 else (1, 0.0, p) for i, p in enumerate(parts))


def ordered_values(values: Iterable[object], attribute: str | None = None) -> list[object]:
    """Distinct values of an attribute in display order.

    The canonical order for the seed's attributes when every value belongs to it; otherwise a
    natural sort (20代 < 30代, 2024年度 < 2025年度, 地区2 < 地区10), with :data:`UNKNOWN` last.
    """
    seen = list(dict.fromkeys(values))
    canon = CANONICAL_ORDER.get(attribute or "")
    if canon is not None and all(v in canon for v in seen):
        return [v for v in canon if v in seen]
    known = [v for v in seen if v != UNKNOWN]
    try:
        known = sorted(known, key=_natural_key)
    except TypeError:
        pass
    return known + ([UNKNOWN] if UNKNOWN in seen else [])


# --------------------------------------------------------------------------- colours and fonts

FONT_FAMILY = "Noto Sans CJK JP, Hiragino Sans, Yu Gothic, Meiryo, sans-serif"
#: Fixed colours for the seed's categories and roles, so every chart and card agrees.
VALUE_COLORS: dict[str, str] = {
    "行政×行政": "#1f77b4",
    "行政×専門機関": "#ff7f0e",
    "専門機関×専門機関": "#2ca02c",
    "行政・専門機関×地域": "#d62728",
    ROLE_GOV: "#4c78a8",
    ROLE_AGENCY: "#f58518",
    UNKNOWN: "#bab0ac",
}
#: A long qualitative palette (Plotly's Dark24 + Light24 heads) for themes and other values.
PALETTE: tuple[str, ...] = (
    "#2E91E5", "#E15F99", "#1CA71C", "#FB0D0D", "#DA16FF", "#B68100", "#750D86", "#EB663B",
    "#511CFB", "#00A08B", "#FB00D1", "#FC0080", "#B2828D", "#6C7C32", "#778AAE", "#862A16",
    "#A777F1", "#620042", "#1616A7", "#DA60CA", "#6C4516", "#0D2A63", "#AF0038", "#222A2A",
)


def theme_color(cluster: int) -> str:
    """The colour of a theme for the life of a run: chosen by its id, never by its rank in a view."""
    c = int(cluster)
    return NOISE_COLOR if c == NOISE else PALETTE[c % len(PALETTE)]


def value_color_map(values: Sequence[str]) -> dict[str, str]:
    """Colour per attribute value: fixed colours for the seed's values, the palette for others."""
    out: dict[str, str] = {}
    spare = iter(PALETTE[4:] * 8)
    for v in values:
        if v not in out:
            out[v] = VALUE_COLORS.get(v) or next(spare)
    return out


def attribute_color_maps(table, attributes: Sequence[str]) -> dict[str, dict[str, str]]:
    """Colour of every value of every attribute, from a run's whole table (not filtered rows), so a
    value keeps its colour on every chart and quote card whatever filter is on."""
    return {a: value_color_map([str(v) for v in ordered_values(table[a], a)]) for a in attributes if a in table}


# --------------------------------------------------------------------------- thresholds

#: Theme stability (0–1, share of member pairs that stay together under other seeds).
STABLE_AT = 0.8
SOMEWHAT_STABLE_AT = 0.5


def stability_word(value: float | None) -> str:
    """「安定」「やや安定」「変わりやすい」, or 「未計算」 for a missing value."""
    if value is None or value != value:
        return "未計算"
    return "安定" if value >= STABLE_AT else ("やや安定" if value >= SOMEWHAT_STABLE_AT else "変わりやすい")


#: A theme reaching this many values of an attribute is 分野横断 (the glossary says "3 or more").
CROSS_MIN_VALUES = 3
#: Expected counts below this make a cell's test a 参考値 (rule of thumb for contingency tables).
MIN_EXPECTED = 5.0
#: Multiple-comparison corrected significance level for "not chance" claims.
ALPHA = 0.05

# --------------------------------------------------------------------------- trainer shortlists

SHORTLIST_COLUMNS: tuple[str, ...] = ("comment_id", "text", "attributes", "label", "note")
