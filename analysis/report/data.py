"""What a report of a saved run shows, gathered once: :func:`build_report` makes a :class:`ReportData`.

Counts, themes with their summary quote, stability and reach across the run's primary attribute,
representative quotes, the theme × attribute table with its honest flags (:func:`analysis.explore.overlaps.cell_tests`)
and the method in plain Japanese (:func:`method_rows`). A report made from the dashboard honours its
filters: pass the filtered rows of ``Run.table()`` (:func:`filter_table` makes them from attribute
values and words) and the filters' Japanese description (:func:`describe_filters`).

The renderers (:mod:`analysis.report.html`, :mod:`analysis.report.workbook`) only lay out what is here.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from ..errors import UserError
from ..explore import overlaps
from ..explore.quotes import representative_quotes
from ..schema import (
    ALPHA,
    MIN_EXPECTED,
    NOISE,
    NOISE_LABEL,
    SOMEWHAT_STABLE_AT,
    STABLE_AT,
    ordered_values,
    stability_word,
    theme_color,
)
from ..store.runs import Run

NO_FILTER = "絞り込みなし（すべてのコメント）"
TITLE = "連携もやもやマップ 報告書"
QUOTES_PER_THEME = 5
NOISE_QUOTES = 3
#: Plain-word description of each embedding backend (the technical name follows in brackets).
BACKEND_WORDS: dict[str, str] = {
    "hybrid": "言葉の一致（文を語に分けて数えたもの）と文の意味（多言語の文モデル）の両方で、コメントどうしの近さを測りました",
    "sudachi": "言葉の一致（文を語に分けて数えたもの）で、コメントどうしの近さを測りました。言い換えには弱い方式です",
    "use": "文の意味を数値にする多言語の文モデルで、コメントどうしの近さを測りました",
    "e5": "文の意味を数値にする文モデル（E5）で、コメントどうしの近さを測りました",
    "e5-hybrid": "言葉の一致と文の意味（文モデル E5）の両方で、コメントどうしの近さを測りました",
}


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

    Words match forgivingly (送りがな, ひらがな書き; :mod:`analysis.text.textsearch`), like the
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
        from ..text.textsearch import match_mask

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


def run_created_ja(run: Run) -> str:
    """When ``run`` was analysed, as 「2025年06月01日 10:00」 (else the manifest's text, or 不明)."""
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
        ("分析した日時", run_created_ja(run)),
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
