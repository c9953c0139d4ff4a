"""The 報告書 section of the 概要 page: the meeting pack (HTML, PDF, Excel) of what the sidebar shows.

Building a report takes a second or more (a PDF needs chromium to print it), so nothing is built
while the page renders: a button prepares all three files from the comments the sidebar filters
keep, and the download buttons then offer exactly those bytes. A prepared report whose filters no
longer match the sidebar is not offered (the files would say something the screen does not).
"""

from __future__ import annotations

import datetime as _dt
import hashlib

import streamlit as st

from analysis.errors import UserError
from ui.sidebar import PageContext
from ui.text import md_escape

KEY_REPORT = "report_ready"


def _stamp(ctx: PageContext) -> str:
    """What the report is about: the run and the exact comments the filters keep."""
    ids = "\n".join(ctx.filtered_ids)
    return hashlib.sha256(f"{ctx.run_id}\n{ctx.filters.describe_ja()}\n{ids}".encode()).hexdigest()


def _prepare(ctx: PageContext) -> None:
    from analysis import report

    described = ctx.filters.describe_ja() if ctx.filters.active else report.NO_FILTER
    with st.spinner("報告書を用意しています（PDF の印刷に数秒かかります）…"):
        data = report.build_report(ctx.run, ctx.filtered, described)
        html = report.report_html(data)
        xlsx = report.report_xlsx(data)
        try:
            pdf, pdf_error = report.html_to_pdf(html), None
        except UserError as exc:
            pdf, pdf_error = None, str(exc)
    st.session_state[KEY_REPORT] = {
        "stamp": _stamp(ctx), "filters": described, "n": data.n_comments, "themes": len(data.themes),
        "at": _dt.datetime.now().strftime("%H:%M:%S"), "html": html.encode("utf-8"), "xlsx": xlsx,
        "pdf": pdf, "pdf_error": pdf_error, "name": f"moyamoya_report_{_dt.date.today():%Y%m%d}",
    }


def report_section(ctx: PageContext) -> None:
    """A button that prepares the report of the filtered comments, then three download buttons."""
    from analysis.report import MIME, NO_FILTER

    st.subheader("報告書（会議用の資料）", anchor=False)
    described = ctx.filters.describe_ja() if ctx.filters.active else NO_FILTER
    st.caption(f"いま表示しているコメント {len(ctx.filtered)} 件（絞り込み: {md_escape(described)}）から、概要・テーマの地図・"
               "テーマの一覧・テーマごとの代表的な声・分野横断の表・分析の方法をまとめます。HTML はインターネットにつながなくても"
               "開ける1つのファイルで、ブラウザの印刷で A4 の資料になります。Excel には表の形で入ります。")
    if st.button("報告書を用意する", key="report_prepare", type="primary", icon=":material/summarize:"):
        _prepare(ctx)
    ready = st.session_state.get(KEY_REPORT)
    if not ready:
        st.caption("「報告書を用意する」を押すと、いまの絞り込みで HTML・PDF・Excel の3つのファイルを作ります。")
        return
    if ready["stamp"] != _stamp(ctx):
        st.info("絞り込みか分析結果が変わったため、前に用意した報告書は今の表示と合いません。もう一度「報告書を用意する」を"
                "押してください。", icon=":material/refresh:")
        return
    st.caption(f"{ready['at']} に用意しました: コメント {ready['n']} 件・テーマ {ready['themes']} 個"
               f"（絞り込み: {md_escape(ready['filters'])}）。")
    c1, c2, c3 = st.columns(3)
    c1.download_button("HTML（ブラウザで開く・印刷）", data=ready["html"], file_name=f"{ready['name']}.html",
                       mime=MIME[".html"], key="dl_report_html", icon=":material/web:")
    if ready["pdf"] is not None:
        c2.download_button("PDF（A4）", data=ready["pdf"], file_name=f"{ready['name']}.pdf", mime=MIME[".pdf"],
                           key="dl_report_pdf", icon=":material/picture_as_pdf:")
    else:
        c2.warning(md_escape(ready["pdf_error"] or "PDF を作れませんでした。"), icon=":material/warning:")
    c3.download_button("Excel（表）", data=ready["xlsx"], file_name=f"{ready['name']}.xlsx", mime=MIME[".xlsx"],
                       key="dl_report_xlsx", icon=":material/table:")
