"""The meeting pack: a report of a saved run (or of the comments a filter keeps) as HTML, PDF or Excel.

:func:`build_report` gathers everything once (counts, themes with their summary quote, stability and
reach across the run's primary attribute, representative quotes, the theme × attribute table with
its honest flags, the method in plain Japanese); :func:`report_html`, :func:`report_xlsx` and
:func:`report_pdf` render that one :class:`ReportData`, so the three files always agree.

* HTML is one self-contained file that makes no network request: plotly.js is inlined once from
  the installed plotly package, fonts are named (system fonts), a Content-Security-Policy forbids
  any fetch, and every string from the data is escaped (a comment is shown as text, never HTML).
  Print CSS lays it out on A4 with a page break before each theme.
* PDF is that HTML printed by Debian's chromium in headless mode (:func:`html_to_pdf`).
* Excel goes through :func:`analysis.cells.write_xlsx`: no cell is ever a formula.

A report made from the dashboard honours its filters: pass the filtered rows of ``Run.table()``
and the filters' Japanese description; the report only shows those comments and says which
filters were on. No Streamlit here: the dashboard, notebooks and the CLI share these functions.
"""

from __future__ import annotations

import datetime as _dt
import html
import os
import shutil
import signal
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from . import charts, overlaps
from .cells import xlsx_bytes
from .errors import UserError
from .quotes import representative_quotes
from .runs import Run
from .schema import (
    ALPHA,
    FONT_FAMILY,
    MIN_EXPECTED,
    NOISE,
    NOISE_LABEL,
    SOMEWHAT_STABLE_AT,
    STABLE_AT,
    ordered_values,
    stability_word,
    theme_color,
)
from .storage import atomic_write_bytes

__all__ = [
    "FORMATS", "NO_FILTER", "ReportError", "ReportData", "ThemeInfo", "build_report", "filter_table",
    "describe_filters", "report_html", "report_xlsx", "report_pdf", "html_to_pdf", "report_bytes",
    "write_report", "SHEETS",
]

FORMATS: tuple[str, ...] = (".html", ".pdf", ".xlsx")
NO_FILTER = "絞り込みなし（すべてのコメント）"
TITLE = "連携もやもやマップ 報告書"
#: Sheet names of the workbook, in order.
SHEETS: tuple[str, ...] = ("コメント", "テーマ", "分野横断", "代表的な声", "設定")
QUOTES_PER_THEME = 5
MARK_HEADER = f"印（★ 偶然とは言いにくい多さ q < {ALPHA} ／ △ 期待件数 {MIN_EXPECTED:.0f} 件未満の参考値）"
NOISE_QUOTES = 3
MIME: dict[str, str] = {
    ".html": "text/html",
    ".pdf": "application/pdf",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
#: Plain-word description of each embedding backend (the technical name follows in brackets).
BACKEND_WORDS: dict[str, str] = {
    "hybrid": "言葉の一致（文を語に分けて数えたもの）と文の意味（多言語の文モデル）の両方で、コメントどうしの近さを測りました",
    "sudachi": "言葉の一致（文を語に分けて数えたもの）で、コメントどうしの近さを測りました。言い換えには弱い方式です",
    "use": "文の意味を数値にする多言語の文モデルで、コメントどうしの近さを測りました",
    "e5": "文の意味を数値にする文モデル（E5）で、コメントどうしの近さを測りました",
    "e5-hybrid": "言葉の一致と文の意味（文モデル E5）の両方で、コメントどうしの近さを測りました",
}
#: The project's font list (analysis.schema.FONT_FAMILY) in CSS form: system fonts by name only.
FONT_CSS = ", ".join(f'"{n.strip()}"' if " " in n.strip() else n.strip() for n in FONT_FAMILY.split(","))
MAX_HOVER_LINES = 6  # hover text of the map; the report prints, so a short excerpt is enough
#: Above this many themes the map has no legend (a printed legend cannot scroll): the numbers
#: on the map and the theme list name them.
MAP_LEGEND_MAX = 20
#: Theme numbers drawn on the map: the largest themes only, so labels do not bury the points.
MAP_LABELS_MAX = 40


class ReportError(UserError):
    """The report cannot be made (bad file name, no chromium, …); the message is Japanese."""


# --------------------------------------------------------------------------- gathering


@dataclass
class ThemeInfo:
    """One theme as the report shows it (counts within the report's comments)."""

    number: int  # 1 = the largest theme of the report
    cluster: int
    label: str
    renamed: bool  # a user gave the name (else it is the automatic, verbatim one)
    size: int
    total: int  # members in the whole run
    keywords: list[str]
    summary: str  # verbatim clause, "" when its comment is not among the report's comments
    summary_id: str
    stability: float | None
    kind: str | None  # 分野横断 / 特有 / 一部共通 (None without a primary attribute to compare)
    top_value: str | None
    top_q: float | None
    top_small: bool
    per_value: dict[str, int]  # comments per value of the primary attribute
    quotes: pd.DataFrame  # representative quotes (quote_columns), pick order
    color: str = ""

    @property
    def stability_text(self) -> str:
        if self.stability is None:
            return "未計算"
        return f"{stability_word(self.stability)}（{self.stability:.2f}）"

    @property
    def where(self) -> str:
        """「行政×行政 3、行政×専門機関 5」: comments per value of the primary attribute."""
        return "、".join(f"{v} {n}" for v, n in self.per_value.items() if n)


@dataclass
class ReportData:
    """Everything a report shows, gathered once by :func:`build_report`."""

    run: Run
    table: pd.DataFrame  # the rows of Run.table() the report is about
    filters_ja: str
    filtered: bool
    made: _dt.datetime
    primary: str | None
    themes: list[ThemeInfo]
    counts: pd.DataFrame | None  # cluster × value of primary (未分類 included), or None
    tests: pd.DataFrame | None  # overlaps.cell_tests(counts)
    compare_note: str  # why there is no theme × attribute comparison ("" when there is one)
    noise_quotes: pd.DataFrame
    method: list[tuple[str, str]] = field(default_factory=list)

    @property
    def n_comments(self) -> int:
        return len(self.table)

    @property
    def n_noise(self) -> int:
        return int((self.table["cluster"] == NOISE).sum())

    @property
    def noise_share(self) -> float:
        return self.n_noise / self.n_comments if self.n_comments else 0.0

    @property
    def title(self) -> str:
        return self.run.dataset["name"] or TITLE

    def value_counts(self) -> dict[str, int]:
        """Comments per value of the primary attribute, display order."""
        if not self.primary:
            return {}
        vc = self.table[self.primary].astype(str).value_counts()
        return {str(v): int(vc.get(str(v), 0)) for v in ordered_values(self.table[self.primary].astype(str), self.primary)}


def describe_filters(selected: Mapping[str, Sequence[str]] | None = None, words: Sequence[str] | str = ()) -> str:
    """「連携の分類: 行政×行政 ／ 語句: 縦割り」 as the dashboard's sidebar words it, or :data:`NO_FILTER`."""
    parts = [f"{a}: " + "、".join(map(str, v)) for a, v in (selected or {}).items() if v]
    w = words.split() if isinstance(words, str) else [x for x in words if x]
    if w:
        parts.append("語句: " + " ".join(w))
    return " ／ ".join(parts) if parts else NO_FILTER


def filter_table(run: Run, selected: Mapping[str, Sequence[str]] | None = None, words: str = "",
                 table: pd.DataFrame | None = None) -> tuple[pd.DataFrame, str]:
    """Rows of ``run.table()`` with one of the ``selected`` values of each attribute and every word.

    Words match forgivingly (送りがな, ひらがな書き; :mod:`analysis.textsearch`), like the
    dashboard's word search. Returns the rows and the Japanese description of the filters.
    Raises :class:`ReportError` for an attribute or a value the run does not have.
    """
    table = run.table() if table is None else table
    mask = np.ones(len(table), dtype=bool)
    for attr, values in (selected or {}).items():
        if attr not in run.attributes:
            have = "、".join(f"「{a}」" for a in run.attributes) or "なし"
            raise ReportError(f"この分析結果に属性「{attr}」はありません（ある属性: {have}）。")
        known = set(table[attr].astype(str))
        unknown = [v for v in values if v not in known]
        if unknown:
            have = "、".join(map(str, ordered_values(known, attr)))
            raise ReportError(f"属性「{attr}」に値「{unknown[0]}」はありません（ある値: {have}）。")
        mask &= table[attr].astype(str).isin(list(values)).to_numpy()
    query = " ".join(words.split())
    if query:
        from .textsearch import match_mask

        mask &= match_mask(table["text"].astype(str).tolist(), query)
    return table[mask], describe_filters(selected, query)


def _num(value) -> float | None:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return None if v != v else v


def build_report(run: Run, table: pd.DataFrame | None = None, filters_ja: str | None = None,
                 quotes_per_theme: int = QUOTES_PER_THEME, made: _dt.datetime | None = None) -> ReportData:
    """Gather a report of ``run``.

    Parameters
    ----------
    table : the rows of ``run.table()`` to report on (the dashboard's filtered rows); default all.
    filters_ja : the filters' description in Japanese (:func:`describe_filters`); ``None`` or
        :data:`NO_FILTER` when nothing is filtered.
    quotes_per_theme : representative quotes per theme (3–5 reads well; fewer when a theme is smaller).
    """
    full = run.table() if table is None else None
    table = (full if full is not None else table).reset_index(drop=True)
    filters_ja = filters_ja or NO_FILTER
    filtered = filters_ja != NO_FILTER or len(table) < len(run.comments)
    primary = run.primary_attribute
    info = run.clusters.set_index("cluster")
    ids = set(table["comment_id"].astype(str))
    assign = run.assignments[run.assignments["comment_id"].astype(str).isin(ids)]

    counts = tests = reach = None
    compare_note = ""
    if not primary:
        compare_note = "この分析結果には属性（分類・回答者・地区など）の列がないため、テーマを属性ごとにくらべていません。"
    elif table[primary].nunique() < 2:
        compare_note = (f"この報告書のコメントは{primary}が1種類（{'、'.join(map(str, table[primary].unique()))}）だけなので、"
                        f"テーマを{primary}ごとにくらべていません。")
    elif (table["cluster"] != NOISE).any():
        counts = overlaps.crosstab(table, by=primary, include_noise=True)
        tests = overlaps.cell_tests(counts)
        reach = overlaps.category_reach(table, primary).set_index("cluster")

    sizes = table.loc[table["cluster"] != NOISE, "cluster"].astype(int).value_counts()
    order = sorted(sizes.index, key=lambda c: (-sizes[c], c))
    themes: list[ThemeInfo] = []
    for number, c in enumerate(order, start=1):
        row = info.loc[c]
        members = table[table["cluster"] == c]
        per_value = {}
        if primary:
            vc = members[primary].astype(str).value_counts()
            per_value = {str(v): int(vc.get(str(v), 0)) for v in ordered_values(table[primary].astype(str), primary)}
        summary_id = str(row.get("summary_id", "") if pd.notna(row.get("summary_id", "")) else "")
        summary = str(row.get("summary", "")) if summary_id in ids and pd.notna(row.get("summary", "")) else ""
        k = min(quotes_per_theme, int(sizes[c]))
        quotes = representative_quotes(run.comments, assign, run.embeddings, int(c), k=k, group_by=primary)
        r = reach.loc[c] if reach is not None and c in reach.index else None
        auto = str(row.get("auto_label", "")) if "auto_label" in info else ""
        themes.append(ThemeInfo(
            number=number, cluster=int(c), label=str(row["label"]) or f"テーマ{number}",
            renamed=bool(auto) and auto != str(row["label"]), size=int(sizes[c]), total=int(row["size"]),
            keywords=list(row["keywords"]), summary=summary, summary_id=summary_id if summary else "",
            stability=_num(row.get("stability")) if "stability" in info else None,
            kind=str(r["kind"]) if r is not None else None,
            top_value=str(r["top_category"]) if r is not None else None,
            top_q=_num(r["top_q"]) if r is not None else None,
            top_small=bool(r["top_small"]) if r is not None else False,
            per_value=per_value, quotes=quotes, color=theme_color(int(c)),
        ))
    noise_quotes = representative_quotes(run.comments, assign, run.embeddings, NOISE, k=NOISE_QUOTES, group_by=primary)
    data = ReportData(run=run, table=table, filters_ja=filters_ja, filtered=filtered, made=made or _dt.datetime.now(),
                      primary=primary, themes=themes, counts=counts, tests=tests, compare_note=compare_note,
                      noise_quotes=noise_quotes)
    data.method = method_rows(data)
    return data


# --------------------------------------------------------------------------- method in plain words


def _created(run: Run) -> str:
    c = str(run.manifest.get("created", ""))
    try:
        return _dt.datetime.fromisoformat(c).strftime("%Y年%m月%d日 %H:%M")
    except ValueError:
        return c or "不明"


def backend_words(backend: str) -> str:
    """How closeness between comments was measured, in plain Japanese (technical name in brackets)."""
    b = backend or "hybrid"
    if b.startswith("st:"):
        return f"手元に保存した文モデルで文の意味を数値にし、コメントどうしの近さを測りました（{b}）"
    return f"{BACKEND_WORDS.get(b, 'コメントどうしの近さを数値で測りました')}（方式: {b}）"


def method_rows(data: ReportData) -> list[tuple[str, str]]:
    """The method and settings as (項目, 内容) rows: the 設定 sheet and the table of the method section."""
    run, m = data.run, data.run.manifest
    cfg = m.get("config", {}) if isinstance(m.get("config"), dict) else {}
    emb, um, hd = (cfg.get(k, {}) if isinstance(cfg.get(k), dict) else {} for k in ("embedding", "umap", "hdbscan"))
    eff = m.get("effective", {}) if isinstance(m.get("effective"), dict) else {}
    q = m.get("quality", {}) if isinstance(m.get("quality"), dict) else {}
    inp = m.get("input", {}) if isinstance(m.get("input"), dict) else {}
    st = m.get("stability") if isinstance(m.get("stability"), dict) else None
    versions = m.get("versions", {}) if isinstance(m.get("versions"), dict) else {}
    masked = inp.get("masked") if isinstance(inp.get("masked"), dict) else {}
    rows = [
        ("報告書の作成日時", data.made.strftime("%Y年%m月%d日 %H:%M")),
        ("データ", data.run.dataset["name"] or "（名前なし）"),
        ("データの説明", data.run.dataset["description"] or "―"),
        ("分析した日時", _created(run)),
        ("分析結果のID", run.run_id),
        ("絞り込み", data.filters_ja),
        ("報告書のコメント数", f"{data.n_comments} 件（分析したコメント {len(run.comments)} 件のうち）"),
        ("テーマの数", f"{len(data.themes)} 個（分析全体では {run.n_clusters} 個）"),
        (NOISE_LABEL, f"{data.n_noise} 件（{data.noise_share:.0%}）。どのテーマにもはっきりとは当てはまらなかったコメントです。"
                  "間違いではなく、ほかと違う独自の声であることが多いので、読み飛ばさないでください。"),
        ("近さの測り方", backend_words(str(emb.get("backend", "")))),
        ("地図とテーマ分け",
         f"近さをもとに、似たコメントが近くに並ぶよう地図（平面）に置きました（UMAP）。テーマ分けは地図とは別に、"
         f"{um.get('n_components', '―')} 次元にまとめた近さで、コメントが密に集まっているところを探して行いました（HDBSCAN）。"
         "テーマの数は人が決めたものではなく、データから決まります。"),
        ("設定（近さを見る範囲）", f"近くのコメント {eff.get('umap_n_neighbors', um.get('n_neighbors', '―'))} 件"
                          f"（n_neighbors、設定値 {um.get('n_neighbors', '―')}）"),
        ("設定（テーマの最小の大きさ）", f"{eff.get('hdbscan_min_cluster_size', hd.get('min_cluster_size', '―'))} 件"
                             f"（min_cluster_size、設定値 {hd.get('min_cluster_size', '―')}、"
                             f"min_samples {hd.get('min_samples', '―')}、選び方 {hd.get('cluster_selection_method', '―')}）"),
        ("乱数の種", str(cfg.get("seed", "―"))),
        ("テーマ名と要約",
         "テーマ名は、そのテーマのコメントに実際に出てくる語句だけを組み合わせて自動で付けています（「話題：困りごと」の形。"
         "このツールが言葉を作ってはいません）。利用者が付け直した名前には「（名前は変更済み）」と書いています。"
         "要約は、テーマの中心に近いコメントの一節をそのまま引用したもので、（ ）内はそのコメントのIDです。"
         "代表的な声は、テーマの中心に近く、互いに内容が重ならないように選んだコメントを原文のまま載せています。"),
    ]
    if st:
        seeds = "、".join(map(str, st.get("seeds", [])))
        rows.append(("安定性", f"乱数の種を変えて（{seeds}）分析をやり直し、結果をくらべました。分け方の一致度（調整ランド指数）"
                            f"平均 {st.get('mean_ari', '―')}（最小 {st.get('min_ari', '―')}）、テーマの安定性の平均 "
                            f"{st.get('mean_cluster_stability', '―')}。テーマの安定性は、そのテーマのコメントどうしが"
                            f"やり直しても同じテーマに入り続けた割合で、{STABLE_AT} 以上を「安定」、{SOMEWHAT_STABLE_AT} 以上を"
                            "「やや安定」、それ未満を「変わりやすい」としています。"))
    else:
        rows.append(("安定性", "この分析では測っていません（「データと再分析」で安定性を測る設定にすると表示されます）。"))
    if data.primary:
        rows.append(("分野横断・特有・一部共通",
                     f"特有 = ある{data.primary}で特に多く、その偏りが偶然とは言いにくいテーマ（Fisher の正確検定、"
                     f"Benjamini–Hochberg 法で補正、q < {ALPHA}）。分野横断 = 特有ではなく、3つ以上の値（値が2つなら両方）"
                     f"に現れるテーマ。一部共通 = どちらでもないテーマ。期待される件数が {MIN_EXPECTED:.0f} 件未満の組み合わせは"
                     "参考値（△）で、割合は大きく揺れます。"))
    if q.get("silhouette") is not None:
        rows.append(("まとまりの良さ", f"シルエット係数 {q['silhouette']:.3f}（大きいほどテーマがはっきり分かれています）"))
    rows.append(("個人情報の伏せ字", "分析の前に、人名・電話番号などを〔人名〕のような記号に置き換えました。" if masked.get("on")
                 else "伏せ字の処理はしていません。"))
    rows.append(("パッケージのバージョン", "、".join(f"{k} {v}" for k, v in versions.items()) or "記録なし"))
    return rows


# --------------------------------------------------------------------------- HTML


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


_CSS = """
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{font-family:@FONT@;color:#222;line-height:1.7;font-size:10.5pt;max-width:180mm;margin:0 auto;padding:16px 12px 40px;
 line-break:strict;overflow-wrap:anywhere;background:#fff}
h1{font-size:20pt;margin:0 0 2px;line-height:1.3}
h2{font-size:14pt;border-bottom:2px solid #4c78a8;padding-bottom:2px;margin:22px 0 8px;break-after:avoid}
h3{font-size:11.5pt;margin:14px 0 4px;break-after:avoid}
p{margin:4px 0 8px}
.sub{font-size:13pt;font-weight:bold;color:#333;margin:2px 0 4px}
.muted{color:#666;font-size:9pt}
.filters{border:1px solid #c9d6e8;background:#f3f7fc;border-radius:6px;padding:6px 10px;margin:10px 0}
.filters.on{border-color:#e0a040;background:#fff7e8}
.stats{display:flex;flex-wrap:wrap;gap:8px;margin:8px 0}
.stat{flex:1 1 110px;border:1px solid #ddd;border-radius:6px;padding:6px 10px}
.stat .n{font-size:16pt;font-weight:bold;line-height:1.2}
.stat .k{font-size:8.5pt;color:#555}
table{border-collapse:collapse;width:100%;margin:6px 0 10px;font-size:9pt}
th,td{border:1px solid #ccc;padding:3px 5px;vertical-align:top;text-align:left}
th{background:#eef2f7;font-weight:bold}
thead{display:table-header-group}
tr{break-inside:avoid}
td.n,th.n{text-align:right;white-space:nowrap}
td.c{text-align:center;white-space:nowrap}
tr.noise td{color:#666;background:#fafafa}
tr.total td{font-weight:bold;background:#f4f4f4}
.num{display:inline-block;min-width:1.7em;padding:0 4px;border-radius:4px;color:#fff;font-weight:bold;text-align:center;
 margin-right:4px;font-size:9pt}
.kw{display:inline-block;border:1px solid #bbb;border-radius:10px;padding:0 7px;margin:0 3px 3px 0;font-size:8.5pt;background:#f7f7f7}
.summary{border-left:4px solid #4c78a8;background:#f5f8fc;padding:4px 10px;margin:6px 0}
.quote{border:1px solid #ddd;border-left:4px solid #999;border-radius:4px;padding:5px 10px;margin:6px 0;break-inside:avoid}
.quote .t{white-space:pre-wrap}
.quote .m{font-size:8.5pt;color:#666}
.meta{font-size:9pt;color:#444}
.chart{width:100%;break-inside:avoid;margin:4px 0 8px}
.keep{break-inside:avoid}
.lead{break-after:avoid}
.legend{font-size:8.5pt;color:#444}
dl.method{margin:0}
section.theme,section.method{break-before:page}
.kind{display:inline-block;border-radius:3px;padding:0 5px;font-size:8.5pt;border:1px solid #888}
.kind-分野横断{background:#e3f1e3;border-color:#5a9a5a}
.kind-特有{background:#fde8e0;border-color:#c0603a}
.kind-一部共通{background:#eef0f4;border-color:#8a93a6}
@page{size:A4;margin:15mm}
@media print{
 body{max-width:none;padding:0;font-size:10pt}
 *{-webkit-print-color-adjust:exact;print-color-adjust:exact}
 a{color:inherit;text-decoration:none}
}
""".replace("@FONT@", FONT_CSS)

# No fetch of any kind: scripts and styles only inline, images only data:/blob: (plotly draws SVG).
_CSP = ("default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
        "img-src data: blob:; font-src data:; connect-src 'none'; form-action 'none'; base-uri 'none'")


def _attr_text(row: Mapping, attributes: Sequence[str]) -> str:
    """「連携の分類：行政×行政 ／ 回答者：行政職員」 (escaped)."""
    parts = [f"{_e(a)}：{_e(row.get(a))}" for a in attributes if a in row and pd.notna(row.get(a))]
    return " ／ ".join(parts)


def _quote_html(row: Mapping, attributes: Sequence[str], color: str = "#999") -> str:
    meta = f"ID {_e(row.get('comment_id'))}"
    attrs = _attr_text(row, attributes)
    if attrs:
        meta += " ／ " + attrs
    return (f'<div class="quote" style="border-left-color:{color}"><div class="t">{_e(row.get("text"))}</div>'
            f'<div class="m">{meta}</div></div>')


def _num_badge(t: ThemeInfo) -> str:
    return f'<span class="num" style="background:{t.color}">{t.number}</span>'


def _kind_html(kind: str | None) -> str:
    return f'<span class="kind kind-{_e(kind)}">{_e(kind)}</span>' if kind else "―"


def _plotlyjs() -> str:
    """plotly.js from the installed plotly package, inlined once in the page's head (no CDN)."""
    from plotly.offline import get_plotlyjs

    return "<script>window.PlotlyConfig = {MathJaxConfig: 'local'};</script><script>" + get_plotlyjs() + "</script>"


def _figure_html(fig, div_id: str) -> str:
    import plotly.io as pio

    return pio.to_html(fig, full_html=False, include_plotlyjs=False, div_id=div_id, default_width="100%",
                       config=charts.plotly_config(displayModeBar=False, responsive=True))


def map_figure(data: ReportData):
    """The theme map of the report's comments: legend entries and centre labels carry theme numbers."""
    t = data.table.copy()
    names = {th.cluster: f"{th.number}. {th.label}" for th in data.themes}
    t["label"] = t["cluster"].map(names).fillna(NOISE_LABEL)
    with_legend = len(data.themes) <= MAP_LEGEND_MAX
    fig = charts.theme_map(t, color_by="theme", attributes=data.run.attributes, legend="bottom",
                           height=(620 if len(data.themes) <= 12 else 720) if with_legend else 600)
    for trace in fig.data:  # a printed report needs a short excerpt on hover, not the whole comment
        cut = [h.split("<br>") for h in trace.hovertext]
        trace.hovertext = ["<br>".join(c[: MAX_HOVER_LINES + 1]) + ("…" if len(c) > MAX_HOVER_LINES + 1 else "") for c in cut]
    fig.update_layout(showlegend=with_legend)
    for th in data.themes[:MAP_LABELS_MAX]:
        # On the member nearest the members' median: a theme split in two on the map would put
        # its median in empty space between the parts.
        xy = t.loc[t["cluster"] == th.cluster, ["x", "y"]].to_numpy(dtype=float)
        x, y = xy[np.argmin(((xy - np.median(xy, axis=0)) ** 2).sum(axis=1))]
        fig.add_annotation(x=float(x), y=float(y), text=f"<b>{th.number}</b>",
                           showarrow=False, font=dict(size=12, color="#111", family=FONT_FAMILY),
                           bgcolor="rgba(255,255,255,0.85)", bordercolor=th.color, borderwidth=1.5, borderpad=2)
    fig.update_layout(dragmode="zoom", legend=dict(font=dict(size=10)), margin=dict(l=4, r=4, t=10, b=4))
    return fig


def _values_figure(data: ReportData):
    if not data.primary:
        return None
    second = next((a for a in data.run.attributes if a != data.primary), None)
    fig = charts.attribute_bar(data.table, data.primary, second)
    fig.update_layout(height=300, margin=dict(l=4, r=4, t=10, b=4))
    return fig


def _crosstab_html(data: ReportData) -> str:
    if data.counts is None:
        return f"<p>{_e(data.compare_note)}</p>" if data.compare_note else ""
    by, counts, tests = data.primary, data.counts, data.tests
    cols = list(counts.columns)
    marks = {(r["cluster"], r["value"]): ("★" if r["significant"] else "") + ("△" if r["small"] and r["count"] else "")
             for _, r in tests.iterrows()}
    head = "".join(f'<th class="n">{_e(v)}</th>' for v in cols)
    out = [f'<table class="cross"><thead><tr><th>テーマ</th>{head}<th class="n">合計</th><th>種類</th></tr></thead><tbody>']
    for th in data.themes:
        if th.cluster not in counts.index:
            continue
        row = counts.loc[th.cluster]
        total = int(row.sum()) or 1
        cells = []
        for v in cols:
            n = int(row[v])
            alpha = 0.08 + 0.6 * n / total if n else 0.0
            style = f' style="background:rgba(76,120,168,{alpha:.2f})"' if n else ' style="color:#aaa"'
            cells.append(f'<td class="n"{style}>{n}{_e(marks.get((th.cluster, v), ""))}</td>')
        out.append(f"<tr><td>{_num_badge(th)}{_e(th.label)}</td>{''.join(cells)}<td class=\"n\">{int(row.sum())}</td>"
                   f"<td>{_kind_html(th.kind)}</td></tr>")
    if NOISE in counts.index:
        row = counts.loc[NOISE]
        cells = "".join(f'<td class="n">{int(row[v])}</td>' for v in cols)
        out.append(f'<tr class="noise"><td>{_e(NOISE_LABEL)}</td>{cells}<td class="n">{int(row.sum())}</td><td>―</td></tr>')
    tot = counts.sum(axis=0)
    out.append('<tr class="total"><td>合計</td>' + "".join(f'<td class="n">{int(tot[v])}</td>' for v in cols)
               + f'<td class="n">{int(tot.sum())}</td><td></td></tr></tbody></table>')
    n_small = int((tests["small"] & (tests["count"] > 0)).sum())
    n_cells = int((tests["count"] > 0).sum())
    out.append(
        f'<p class="legend">★ その{_e(by)}で特に多く、偶然とは言いにくい組み合わせ（Fisher の正確検定、Benjamini–Hochberg 法で'
        f"多重比較を補正して q &lt; {ALPHA}）。△ 期待される件数が {MIN_EXPECTED:.0f} 件未満の参考値（件数が少ないため割合は大きく"
        f"揺れます。結論の根拠にはせず、コメントを読んで確かめてください）。コメントのある組み合わせ {n_cells} 個のうち "
        f"{n_small} 個が参考値です。色の濃さはテーマの中での割合です。</p>"
        f'<p class="legend">種類: <b>分野横断</b> = 特有ではなく、3つ以上の{_e(by)}（値が2つなら両方）に現れるテーマ。'
        f"<b>特有</b> = ある{_e(by)}で特に多く、その偏りが偶然とは言いにくいテーマ（ほかの値に現れることもあります）。"
        "<b>一部共通</b> = そのどちらでもないテーマ。</p>")
    return "".join(out)


def _theme_list_html(data: ReportData) -> str:
    by = data.primary
    head = ('<th style="width:20%">テーマ</th><th>要約（もとのコメントのID）</th><th class="n" style="width:6%">件数</th>'
            + (f'<th style="width:21%">現れる{_e(by)}</th><th style="width:10%">種類</th>' if by else "")
            + '<th style="width:11%">安定性</th>')
    rows = []
    for th in data.themes:
        summary = f"「{_e(th.summary)}」（{_e(th.summary_id)}）" if th.summary else "―"
        name = _num_badge(th) + _e(th.label) + ('<br><span class="muted">（名前は変更済み）</span>' if th.renamed else "")
        cells = (f"<td>{name}</td><td>{summary}</td><td class=\"n\">{th.size}</td>"
                 + (f"<td>{_e(th.where)}</td><td class=\"c\">{_kind_html(th.kind)}</td>" if by else "")
                 + f"<td class=\"c\">{_e(th.stability_text)}</td>")
        rows.append(f"<tr>{cells}</tr>")
    return f'<table class="themes"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def _theme_section_html(data: ReportData, th: ThemeInfo) -> str:
    attrs = data.run.attributes
    parts = [f'<section class="theme" id="theme-{th.number}">',
             f"<h2>{_num_badge(th)}{_e(th.label)}</h2>"]
    facts = [f"{th.size} 件" + (f"（分析全体では {th.total} 件）" if th.total != th.size else ""),
             f"安定性: {_e(th.stability_text)}"]
    if th.kind:
        facts.append(f"種類: {_kind_html(th.kind)}")
    if th.renamed:
        facts.append("名前は変更済み")
    parts.append(f'<p class="meta">{" ／ ".join(facts)}</p>')
    if th.summary:
        parts.append(f'<div class="summary">要約: 「{_e(th.summary)}」<span class="muted">（{_e(th.summary_id)} の一節をそのまま引用）'
                     "</span></div>")
    if th.keywords:
        parts.append("<h3>キーワード</h3><p>" + "".join(f'<span class="kw">{_e(k)}</span>' for k in th.keywords) + "</p>")
    if data.primary and th.per_value:
        parts.append(f"<h3>{_e(data.primary)}ごとの件数</h3><p>{_e(th.where) or '―'}</p>")
    parts.append(f"<h3>代表的な声（{len(th.quotes)} 件）</h3>")
    parts.append('<p class="muted">テーマの中心に近く、互いに内容が重ならないように選んだコメントです（原文のまま）。</p>')
    parts += [_quote_html(r, attrs, th.color) for r in th.quotes.to_dict("records")]
    parts.append("</section>")
    return "".join(parts)


def report_html(data: ReportData) -> str:
    """The report as one self-contained HTML document (plotly.js inlined; no network request)."""
    run = data.run
    ds = run.dataset
    map_html = _figure_html(map_figure(data), "report-map")
    vfig = _values_figure(data)
    values_html = _figure_html(vfig, "report-values") if vfig is not None else ""
    filt_cls = "filters on" if data.filtered else "filters"
    stats = [("コメント", f"{data.n_comments} 件"), ("テーマ", f"{len(data.themes)} 個"),
             (NOISE_LABEL, f"{data.noise_share:.0%}（{data.n_noise} 件）")]
    if data.primary:
        stats.append((data.primary, f"{len(data.value_counts())} 種類"))
    out = [
        "<!DOCTYPE html>", '<html lang="ja"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<link rel="icon" href="data:,">',
        f"<title>{_e(TITLE)}：{_e(data.title)}</title>",
        f"<style>{_CSS}</style>", _plotlyjs(), "</head><body>",
        f"<header><h1>{_e(TITLE)}</h1>",
        f'<div class="sub">{_e(ds["name"] or "（名前のないデータ）")}</div>',
        f"<p>{_e(ds['description'] or '自由記述のコメントを、内容の近さで自動的にテーマに分けたものです。')}</p>",
        f'<p class="muted">作成: {data.made:%Y年%m月%d日 %H:%M} ／ 分析: {_e(_created(run))}（分析結果 {_e(run.run_id)}）</p>',
        f'<div class="{filt_cls}"><b>絞り込み:</b> {_e(data.filters_ja)}'
        f"（{data.n_comments} / {len(run.comments)} 件）</div></header>",
        "<h2>概要</h2>",
        '<div class="stats">' + "".join(f'<div class="stat"><div class="k">{_e(k)}</div><div class="n">{_e(v)}</div></div>'
                                        for k, v in stats) + "</div>",
    ]
    if data.primary:
        vc = data.value_counts()
        out.append(f'<div class="keep"><p>{_e(data.primary)}ごとの件数: ' + "、".join(f"{_e(v)} {n} 件" for v, n in vc.items())
                   + f'</p><div class="chart">{values_html}</div></div>')
    out += [
        '<div class="keep"><h2>テーマの地図</h2>',
        '<p class="muted">点の1つひとつがコメントで、内容が近いコメントほど近くに置かれます。数字はテーマの番号（下の一覧と同じ）で、'
        "そのテーマのコメントが集まっている中心に置いています"
        + (f"（件数の多い {MAP_LABELS_MAX} テーマ）" if len(data.themes) > MAP_LABELS_MAX else "")
        + "。灰色の白抜きの点は未分類です。画面で開くと、点にマウスを乗せて本文の冒頭を読めます。</p>",
        f'<div class="chart">{map_html}</div></div>',
        "<h2>テーマの一覧</h2>",
        f'<p class="muted lead">件数の多い順です。要約はテーマの中心に近いコメントの一節をそのまま引用したものです。'
        f"安定性は、乱数の種を変えてやり直しても同じテーマにまとまる割合です（{STABLE_AT} 以上で安定、{SOMEWHAT_STABLE_AT} 以上で"
        "やや安定）。</p>",
        _theme_list_html(data) if data.themes else "<p>この報告書のコメントには、テーマに分類されたものがありません。</p>",
        f'<p class="muted">このほか、未分類のコメントが {data.n_noise} 件あります。</p>' if data.n_noise else "",
    ]
    if data.primary:
        out += [f"<h2>テーマ × {_e(data.primary)}</h2>", _crosstab_html(data)]
    for th in data.themes:
        out.append(_theme_section_html(data, th))
    if data.n_noise:
        out.append('<section class="theme" id="theme-noise"><h2>未分類のコメント（例）</h2>'
                   f'<p class="meta">{data.n_noise} 件 ／ どのテーマにもはっきりとは当てはまらなかったコメントです。'
                   "間違いではなく、ほかと違う独自の声であることが多いので、読み飛ばさないでください。"
                   "ここではその中から、互いに内容の違うものを選んでいます。</p>")
        out += [_quote_html(r, run.attributes, "#b8b8b8") for r in data.noise_quotes.to_dict("records")]
        out.append("</section>")
    out.append('<section class="method" id="method"><h2>この報告書の作り方</h2>'
               "<p>寄せられたコメントを、このツールが内容の近さで自動的にグループ（テーマ）に分けました。人が読んで分類したもの"
               "ではないため、テーマの境目はおおまかな目安です。数字だけで判断せず、代表的な声や元のコメントを読んで確かめて"
               "ください。コメントは原文のまま載せています。</p>")
    out.append("<table><tbody>" + "".join(f"<tr><th style=\"width:28%\">{_e(k)}</th><td>{_e(v)}</td></tr>"
                                          for k, v in data.method) + "</tbody></table>")
    out.append(f'<p class="muted">{_e(TITLE)} ／ 分析結果 {_e(run.run_id)}</p></section></body></html>')
    return "\n".join(out)


# --------------------------------------------------------------------------- Excel


def _sheets(data: ReportData) -> dict[str, pd.DataFrame]:
    run, attrs, by = data.run, data.run.attributes, data.primary
    t = data.table
    comments = pd.DataFrame({"ID": t["comment_id"].astype(str), "コメント": t["text"], "テーマ": t["label"],
                             "所属の強さ": t["strength"].round(3)})
    for a in attrs:
        comments[a if a not in comments.columns else f"{a}（属性）"] = t[a].to_numpy()

    themes = pd.DataFrame([{
        "番号": th.number, "テーマ": th.label, "要約": th.summary, "要約のもとのID": th.summary_id, "件数": th.size,
        "キーワード": "、".join(th.keywords), "安定性": None if th.stability is None else round(th.stability, 2),
        "安定性の目安": stability_word(th.stability),
        **({f"現れる{by}": th.where, "種類": th.kind or "―"} if by else {}),
        "名前": "変更済み" if th.renamed else "自動（コメントの語句）",
    } for th in data.themes])
    if themes.empty:
        themes = pd.DataFrame(columns=["番号", "テーマ", "要約", "要約のもとのID", "件数", "キーワード", "安定性", "安定性の目安"])

    if data.counts is not None:
        cols = list(data.counts.columns)
        recs = []
        marks = data.tests.assign(mark=[("★" if s else "") + ("△" if sm and n else "")
                                        for s, sm, n in zip(data.tests["significant"], data.tests["small"], data.tests["count"])])
        for th in data.themes:
            row = data.counts.loc[th.cluster]
            mk = marks[(marks["cluster"] == th.cluster) & (marks["mark"] != "")]
            recs.append({"番号": th.number, "テーマ": th.label, **{str(v): int(row[v]) for v in cols}, "合計": int(row.sum()),
                         "種類": th.kind, "特に多い値": th.top_value, "q値（補正後）": None if th.top_q is None else round(th.top_q, 4),
                         MARK_HEADER: "、".join(f"{v} {m}" for v, m in zip(mk["value"], mk["mark"]))})
        if NOISE in data.counts.index:
            row = data.counts.loc[NOISE]
            recs.append({"番号": None, "テーマ": NOISE_LABEL, **{str(v): int(row[v]) for v in cols}, "合計": int(row.sum())})
        cross = pd.DataFrame(recs)
    else:
        cross = pd.DataFrame({"説明": [data.compare_note or "くらべる属性がありません。"]})

    qrows = []
    for th in data.themes:
        for r in th.quotes.to_dict("records"):
            qrows.append({"番号": th.number, "テーマ": th.label, "順": int(r["rank"]), "ID": str(r["comment_id"]),
                          "コメント": r["text"], **{a: r.get(a) for a in attrs}})
    for r in data.noise_quotes.to_dict("records"):
        qrows.append({"番号": None, "テーマ": NOISE_LABEL, "順": int(r["rank"]), "ID": str(r["comment_id"]),
                      "コメント": r["text"], **{a: r.get(a) for a in attrs}})
    quotes = pd.DataFrame(qrows, columns=["番号", "テーマ", "順", "ID", "コメント", *attrs])
    settings = pd.DataFrame(data.method, columns=["項目", "内容"])
    return dict(zip(SHEETS, (comments, themes, cross, quotes, settings)))


def report_xlsx(data: ReportData) -> bytes:
    """The report as an Excel workbook (:data:`SHEETS`); Japanese headers, frozen header row, no formula."""
    return xlsx_bytes(_sheets(data), col_widths={"コメント": 80, "要約": 50, "内容": 90, "キーワード": 40, "項目": 24})


# --------------------------------------------------------------------------- PDF


def chromium_path() -> str | None:
    """Debian's chromium (``$MOYAMOYA_CHROMIUM`` overrides), or None when it is not installed."""
    override = os.environ.get("MOYAMOYA_CHROMIUM")
    if override:
        return override if Path(override).exists() else None
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def html_to_pdf(html_text: str, timeout: float = 300.0) -> bytes:
    """Print an HTML document to PDF with headless chromium (A4, the page's own print CSS).

    Chromium runs with a throw-away profile and no background networking; virtual time lets
    the page's scripts (plotly) finish drawing before it prints. Raises :class:`ReportError` with
    a Japanese message when chromium is missing, fails or takes longer than ``timeout`` seconds.
    """
    exe = chromium_path()
    if exe is None:
        raise ReportError("PDF を作るためのブラウザ（chromium）が見つかりません。HTML 版をブラウザで開いて「印刷」から "
                          "PDF に保存するか、サーバーに chromium を入れてください（Debian: apt-get install chromium）。")
    with tempfile.TemporaryDirectory(prefix="moyamoya-pdf-") as tmp:
        src, out = Path(tmp) / "report.html", Path(tmp) / "report.pdf"
        src.write_text(html_text, encoding="utf-8")
        cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage", "--disable-extensions",
               "--mute-audio", f"--user-data-dir={Path(tmp) / 'profile'}", f"--print-to-pdf={out}",
               "--no-pdf-header-footer", "--virtual-time-budget=10000", "--run-all-compositor-stages-before-draw",
               src.as_uri()]
        # A session of its own: on a timeout the whole group (renderer, GPU and zygote processes) is ended.
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                start_new_session=True)
        try:
            _, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise ReportError(f"PDF の作成が {timeout:.0f} 秒で終わらなかったため中止しました。HTML 版を開いて印刷してください。") from None
        data = out.read_bytes() if out.exists() else b""
        if proc.returncode != 0 or not data.startswith(b"%PDF"):
            detail = err.decode("utf-8", "replace").strip().splitlines()[-1:] if err else []
            raise ReportError("ブラウザ（chromium）で PDF を作れませんでした"
                              + (f"（{detail[0][:200]}）" if detail else "") + "。HTML 版を開いて印刷してください。")
        return data


def report_pdf(data: ReportData, timeout: float = 300.0) -> bytes:
    """The HTML report printed to PDF (see :func:`html_to_pdf`)."""
    return html_to_pdf(report_html(data), timeout=timeout)


# --------------------------------------------------------------------------- files


def report_format(path: str | Path) -> str:
    """``.html``, ``.pdf`` or ``.xlsx`` from a file name; :class:`ReportError` for anything else."""
    ext = Path(str(path)).suffix.lower()
    if ext not in FORMATS:
        raise ReportError(f"報告書のファイル名は .html、.pdf、.xlsx のどれかで終わるようにしてください（指定: {Path(str(path)).name}）。")
    return ext


def report_bytes(data: ReportData, fmt: str) -> bytes:
    """The report in format ``fmt`` (``.html`` / ``.pdf`` / ``.xlsx``, with or without the dot)."""
    fmt = fmt if fmt.startswith(".") else "." + fmt
    fmt = fmt.lower()
    if fmt == ".html":
        return report_html(data).encode("utf-8")
    if fmt == ".pdf":
        return report_pdf(data)
    if fmt == ".xlsx":
        return report_xlsx(data)
    raise ReportError(f"報告書の形式は html、pdf、xlsx のどれかです（指定: {fmt}）。")


def write_report(data: ReportData, out: str | Path, force: bool = False) -> Path:
    """Write the report to ``out`` (format from its extension) atomically; an existing file needs ``force``."""
    path = Path(out)
    fmt = report_format(path)
    if path.exists() and not force:
        raise ReportError(f"「{path}」はすでにあります。上書きするときは --force を付けてください。")
    if path.is_dir():
        raise ReportError(f"「{path}」はフォルダです。ファイル名を指定してください。")
    if not path.parent.is_dir():
        raise ReportError(f"保存先のフォルダ「{path.parent}」がありません。")
    atomic_write_bytes(path, report_bytes(data, fmt))
    return path
