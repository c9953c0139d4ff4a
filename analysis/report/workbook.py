"""The report as an Excel workbook (:func:`report_xlsx`): one sheet each for the comments, the themes,
the theme × attribute table, the representative quotes and the settings (:data:`SHEETS`).

It lays out one :class:`~analysis.report.data.ReportData` and is written through
:func:`analysis.store.cells.write_xlsx`: no cell is ever a formula.
"""

from __future__ import annotations

import pandas as pd

from ..schema import ALPHA, MIN_EXPECTED, NOISE, NOISE_LABEL, stability_word
from ..store.cells import xlsx_bytes
from .data import ReportData

#: Sheet names of the workbook, in order.
SHEETS: tuple[str, ...] = ("コメント", "テーマ", "分野横断", "代表的な声", "設定")
MARK_HEADER = f"印（★ 偶然とは言いにくい多さ q < {ALPHA} ／ △ 期待件数 {MIN_EXPECTED:.0f} 件未満の参考値）"


def _sheets(data: ReportData) -> dict[str, pd.DataFrame]:
    attrs, by = data.run.attributes, data.primary
    t = data.table
    comments = pd.DataFrame({"ID": t["comment_id"].astype(str), "コメント": t["text"], "テーマ": t["label"],
                             "当てはまりの強さ": t["strength"].round(3)})
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
