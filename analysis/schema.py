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
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

#: The project's data files (seed document, word lists, masking allow list).
DATA_DIR = Path(__file__).resolve().parent.parent / "data"

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
#: The seed's columns: the core columns and its two attributes.
COMMENT_COLUMNS: tuple[str, ...] = CORE_COLUMNS + SEED_ATTRIBUTES
CATEGORIES: tuple[str, ...] = ("行政×行政", "行政×専門機関", "専門機関×専門機関", "行政・専門機関×地域")
ROLE_GOV = "行政職員"
ROLE_AGENCY = "専門機関職員"
UNKNOWN = "未記載"
ROLES: tuple[str, ...] = (ROLE_GOV, ROLE_AGENCY, UNKNOWN)
#: Canonical value order for the seed's attributes; other attributes sort naturally.
CANONICAL_ORDER: dict[str, tuple[str, ...]] = {SEED_CATEGORY: CATEGORIES, SEED_ROLE: ROLES}

KEYWORD_SEP = "、"
LABEL_SEP = "・"


def attributes_of(comments) -> list[str]:
    """The attribute columns of a comment table (every column that is not a core column), in order."""
    return [c for c in comments.columns if c not in CORE_COLUMNS]


_SPACES = re.compile(r"\s+")


def normalize_text(text: str) -> str:
    """NFKC-normalise for analysis; line breaks and runs of spaces become one space.

    Analysis works on this form; people always read the original text.
    """
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", text)).strip()


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


# --------------------------------------------------------------------------- what a run analysed

DATASET_KINDS: tuple[str, ...] = ("seed", "file", "upload")


@dataclass(frozen=True)
class DatasetInfo:
    """What a data set is, in one shape for the seed, the CLI and the dashboard (a run's manifest ``input``).

    name, description : shown in the dashboard and the report.
    kind : ``seed``, ``file`` (read by the CLI or a notebook) or ``upload`` (read in the dashboard).
    source : the file read: a path (CLI) or the uploaded file's name.
    encoding, sheet : how the file was read (text encoding; the Excel sheet).
    columns : the user's headers: ``{"text": …, "id": … or None, "attributes": [...]}``.
    ids : ``user`` when the comments keep the user's id column, else ``generated`` (c001 …).
    masked : ``{"on": bool, "counts": {kind: n}, "allow": [...]}`` (personal data masking).
    attributes : attribute columns to analyse (None: every column that is not a core column).
    primary_attribute : the attribute pages use first (default: 連携の分類 when present, else the first).
    """

    name: str = ""
    kind: str = "file"
    description: str = ""
    source: str = ""
    encoding: str | None = None
    sheet: str | None = None
    columns: Mapping[str, Any] = field(default_factory=dict)
    ids: str = "generated"
    masked: Mapping[str, Any] = field(default_factory=lambda: {"on": False})
    attributes: tuple[str, ...] | None = None
    primary_attribute: str | None = None

    def replace(self, **changes: Any) -> "DatasetInfo":
        import dataclasses

        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able, every field (a job folder's job.json)."""
        out = asdict(self)
        out["attributes"] = None if self.attributes is None else list(self.attributes)
        return out

    def manifest_input(self) -> dict[str, Any]:
        """What a run's manifest records under ``input`` (attributes have their own manifest keys)."""
        return {k: v for k, v in self.to_dict().items() if k not in ("attributes", "primary_attribute")}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> "DatasetInfo":
        """From :meth:`to_dict` output, a manifest's ``input`` or an older dict (``path`` / ``file`` are
        the old names of ``source``); unknown keys are ignored, wrong types fall back to the defaults."""
        d = dict(data or {})
        if not d.get("source"):
            d["source"] = d.get("path") or d.get("file") or ""
        names = {f for f in cls.__dataclass_fields__}
        kw = {k: v for k, v in d.items() if k in names}
        for k in ("name", "kind", "description", "source", "ids"):
            if k in kw and not isinstance(kw[k], str):
                kw[k] = str(kw[k]) if kw[k] is not None else ""
        for k in ("columns", "masked"):
            if k in kw and not isinstance(kw[k], Mapping):
                kw.pop(k)
        attrs = kw.get("attributes")
        kw["attributes"] = tuple(str(a) for a in attrs) if isinstance(attrs, (list, tuple)) else None
        if not isinstance(kw.get("primary_attribute"), (str, type(None))):
            kw["primary_attribute"] = None
        return cls(**kw)

    @classmethod
    def coerce(cls, value: "DatasetInfo | Mapping[str, Any] | None") -> "DatasetInfo":
        return value if isinstance(value, cls) else cls.from_dict(value)


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
