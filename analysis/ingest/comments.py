"""Comment tables from a user's table, every row accounted for, and their CSV form in a saved run.

Reading a user's file (bytes → table → column roles → comments) lives in :mod:`analysis.ingest.importing`
(``load_file``, ``load_bytes``), which builds on :func:`comments_from_table` here.

Every comment table has the core columns of :data:`analysis.schema.CORE_COLUMNS` followed by its
attribute columns (in the order the user mapped them):

``comment_id``  stable string id (``c001`` ... in source order, or the user's id column)
``text``        the comment as written (markdown markers removed), used for display
``text_norm``   NFKC-normalised text with line breaks removed, used for analysis
``emphasis``    list of phrases the editors set in bold (empty for user files)
``position``    0-based position in the source (document order / row order)
``source_line`` 1-based line in the seed document, or the row number of a user file
                (header = row 1, so the first data row is row 2, as Excel shows it)
attributes      one column per grouping attribute, named by its header (the seed has
                連携の分類 and 回答者); empty values are ``未記載``

Every failure raises :class:`~analysis.errors.CorpusError` whose message is Japanese and meant for end users.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from ..errors import CorpusError
from ..schema import (
    CORE_COLUMNS,
    UNKNOWN,
    attribute_column_name,
    attributes_of,
    normalize_text,
)

__all__ = ["SkippedRow", "LoadReport", "LoadResult", "comments_from_table", "comments_to_csv_frame",
           "comments_from_csv_frame", "finish_table", "BLANK_REASON", "MAX_UPLOAD_BYTES", "MAX_ROWS"]

MAX_UPLOAD_BYTES = 20 * 1024 * 1024
MAX_ROWS = 200_000
#: A cell keeps at most this many characters; longer ones are cut, with a note (a free-text answer
#: is a few hundred characters; the dense model reads the first 2,000).
MAX_CELL_CHARS = 20_000
#: Most cells (rows x columns, blanks included) a file may have: bounds memory whatever its shape.
MAX_CELLS = 5_000_000


def finish_table(df: pd.DataFrame, ids: list[str] | None = None, attributes: list[str] = ()) -> pd.DataFrame:
    """Add the core columns (ids, normalised text, position, emphasis) and order the columns."""
    df = df.reset_index(drop=True)
    n = len(df)
    width = max(3, len(str(n)))
    df.insert(0, "comment_id", ids if ids is not None else [f"c{i + 1:0{width}d}" for i in range(n)])
    df["text_norm"] = [normalize_text(t) for t in df["text"]]
    df["position"] = range(n)
    if "emphasis" not in df:
        df["emphasis"] = [[] for _ in range(n)]
    return df[list(CORE_COLUMNS) + list(attributes)]


# --------------------------------------------------------------------------- user files
@dataclass(frozen=True)
class SkippedRow:
    """A data record of a file that is not a comment (or was changed to become one), and why.

    ``line`` is the 1-based line a text editor shows (for a record spanning lines, its first line)
    or the Excel row number; ``sheet`` names the sheet for Excel files; ``reason`` is Japanese.
    """

    line: int
    reason: str
    raw: str = ""
    sheet: str | None = None

    @property
    def where(self) -> str:
        """Japanese location, e.g. 「12行目」 or 「シート『回答』の12行目」."""
        return f"シート『{self.sheet}』の{self.line}行目" if self.sheet else f"{self.line}行目"


@dataclass
class LoadReport:
    """What happened to the rows of a user file; nothing is dropped without being counted here.

    ``n_rows`` data rows in the file = ``n_comments`` + ``len(skipped)``, always.
    """

    n_rows: int
    n_comments: int
    skipped: list[SkippedRow] = field(default_factory=list)
    duplicate_groups: list[list[str]] = field(default_factory=list)
    encoding: str | None = None
    notes: list[str] = field(default_factory=list)
    mapping: dict[str, object] = field(default_factory=dict)
    repaired: list[SkippedRow] = field(default_factory=list)
    sheet: str | None = None
    sheets: list[str] = field(default_factory=list)

    @property
    def blank_rows(self) -> list[int]:
        return [s.line for s in self.skipped if s.reason == BLANK_REASON]

    def summary_ja(self) -> str:
        parts = [f"{self.n_rows}行を読み込み、{self.n_comments}件のコメントを取り込みました。"]
        reasons: dict[str, list[int]] = {}
        for sk in self.skipped:
            reasons.setdefault(sk.reason, []).append(sk.line)
        for reason, lines in reasons.items():
            shown = "、".join(str(r) for r in lines[:10])
            more = " ほか" if len(lines) > 10 else ""
            parts.append(f"{reason.split('（')[0]}の{len(lines)}行（行番号 {shown}{more}）は除外しました。")
        if self.repaired:
            shown = "、".join(str(r.line) for r in self.repaired[:10])
            parts.append(f"{len(self.repaired)}行（行番号 {shown}）は列の数を直して取り込みました。")
        if self.duplicate_groups:
            n_dup = sum(len(g) for g in self.duplicate_groups)
            parts.append(
                f"まったく同じ本文のコメントが{len(self.duplicate_groups)}組（計{n_dup}件）あります。"
                "除外せずにそのまま分析します。"
            )
        return "".join(parts + self.notes)


BLANK_REASON = "本文が空"
FORMULA_REASON = "本文が数式で、計算結果が保存されていない（Excel で開いて保存し直すと読み込めます）"


def cut_note(cut: list[tuple[int, int]], unit: str = "行目") -> str | None:
    """The note for cells cut at :data:`MAX_CELL_CHARS`: ``cut`` holds (line or row, column index)."""
    if not cut:
        return None
    lines = sorted({r for r, _ in cut})
    shown = "、".join(f"{r}{unit}" for r in lines[:10]) + (f" ほか{len(lines) - 10}行" if len(lines) > 10 else "")
    return (f"{len(cut)}個のセルが{MAX_CELL_CHARS:,}字を超えていたため、先頭の{MAX_CELL_CHARS:,}字だけを読み込みました"
            f"（{shown}）。")


def too_many_cells(n: int) -> None:
    raise CorpusError(
        f"ファイルのセルが多すぎます（{n:,}個を超えています。上限は{MAX_CELLS:,}個）。コメントの列と、"
        "分けて集計したい列だけを残した表にして保存し直してください。"
    )


@dataclass
class LoadResult:
    comments: pd.DataFrame
    report: LoadReport


def require_column(table: pd.DataFrame, name: str | None, what: str) -> None:
    if name is not None and name not in table.columns:
        available = "、".join(f"「{c}」" for c in table.columns)
        raise CorpusError(f"{what}の列「{name}」が見つかりません。ファイルにある列: {available}")


def comments_from_table(
    table: pd.DataFrame,
    text_column: str,
    attributes: list[str] | tuple[str, ...] = (),
    id_column: str | None = None,
    encoding: str | None = None,
    line_numbers: list[int] | None = None,
    skipped: list[SkippedRow] | None = None,
    notes: list[str] | None = None,
) -> LoadResult:
    """Turn a user table into a comment table (see module docstring for the columns).

    ``attributes`` are the grouping columns to keep, in order (renamed where a name is reserved,
    see :func:`analysis.schema.attribute_column_name`). ``line_numbers`` are the file's row numbers
    of the table rows (default: header = row 1, data from row 2) and ``skipped`` the rows the
    reader already left out; blank texts are added to it, so read + skipped = rows in the file.
    Exact duplicates are kept and reported.
    """
    require_column(table, text_column, "本文（コメント）")
    for a in attributes:
        require_column(table, a, "属性")
    require_column(table, id_column, "ID")
    if text_column in attributes or (id_column is not None and id_column in attributes):
        raise CorpusError("本文やIDの列は、属性の列には選べません。")
    texts = table[text_column].fillna("").astype(str).map(lambda s: s.strip())
    keep = texts.map(lambda s: bool(s.strip()))
    row_numbers = list(line_numbers) if line_numbers is not None else [i + 2 for i in range(len(table))]
    skipped = list(skipped or []) + [SkippedRow(r, BLANK_REASON) for r, k in zip(row_numbers, keep) if not k]
    skipped.sort(key=lambda sk: sk.line)
    if not keep.any():
        raise CorpusError(
            f"「{text_column}」列に本文のある行がありません。本文の列を選び直すか、ファイルの中身を"
            "確認してください。"
        )
    kept = table[keep.values]
    ids = None
    if id_column is not None:
        ids = [v.strip() for v in kept[id_column].fillna("").astype(str)]
        if any(not v for v in ids):
            raise CorpusError(f"ID列「{id_column}」に空の値があります。ID列を指定しないか、空欄を埋めてください。")
        dup = pd.Series(ids)[pd.Series(ids).duplicated()].unique().tolist()
        if dup:
            raise CorpusError(
                f"ID列「{id_column}」に重複した値があります（例: {'、'.join(dup[:5])}）。"
                "ID列を指定しないか、重複をなくしてください。"
            )
    data: dict[str, list] = {"text": texts[keep].tolist(), "source_line": [r for r, k in zip(row_numbers, keep) if k]}
    names: list[str] = []
    for a in attributes:
        name = attribute_column_name(a, names)
        names.append(name)
        data[name] = [v.strip() or UNKNOWN for v in kept[a].fillna("").astype(str)]
    df = pd.DataFrame(data)
    df["emphasis"] = [[] for _ in range(len(df))]
    comments = finish_table(df, ids, names)
    groups = comments.groupby("text_norm")["comment_id"].apply(list)
    duplicate_groups = [g for g in groups if len(g) > 1]
    report = LoadReport(
        n_rows=len(comments) + len(skipped),
        n_comments=len(comments),
        skipped=skipped,
        duplicate_groups=duplicate_groups,
        encoding=encoding,
        notes=list(notes or []),
        mapping={"text": text_column, "id": id_column, "attributes": dict(zip(attributes, names))},
    )
    return LoadResult(comments=comments, report=report)


def comments_to_csv_frame(comments: pd.DataFrame) -> pd.DataFrame:
    """Comment table with ``emphasis`` as a ' | '-joined string, for CSV files."""
    out = comments.copy()
    out["emphasis"] = [" | ".join(e) for e in out["emphasis"]]
    return out


def comments_from_csv_frame(frame: pd.DataFrame, attributes: list[str] | None = None) -> pd.DataFrame:
    """Inverse of :func:`comments_to_csv_frame`; ``attributes`` default to every non-core column."""
    out = frame.copy()
    missing = [c for c in CORE_COLUMNS if c not in out.columns]
    if missing:
        raise CorpusError(f"コメントの表に必要な列がありません: {'、'.join(missing)}")
    attrs = attributes_of(out) if attributes is None else list(attributes)
    out["emphasis"] = [[p for p in str(e).split(" | ") if p] if isinstance(e, str) else [] for e in out["emphasis"]]
    for col in ("comment_id", "text", "text_norm", *attrs):
        out[col] = out[col].fillna("").astype(str)
    for a in attrs:
        out[a] = out[a].where(out[a] != "", UNKNOWN)
    return out[list(CORE_COLUMNS) + attrs]
