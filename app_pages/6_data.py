"""データと再分析: read an office's own file safely, start analyses, manage and compare saved runs."""

import streamlit as st

from ui import auth, datapage, jobs_view
from ui.sidebar import current_context

st.title("データと再分析")
st.caption("自分の調査の回答（CSV・Excel）を読み込んで分析したり、いまの分析を設定を変えてやり直したりできます。"
           "分析はサーバーで進むので、このページを閉じても止まりません。")
ctx = current_context()
viewer = auth.viewer()

st.subheader("分析の受付状況", anchor=False)
jobs_view.job_list(viewer.owner)

st.subheader("新しく分析する", anchor=False)
if not auth.needs_analyst("ファイルの読み込みと分析"):
    source = st.radio("分析するコメント", ["upload", "current"], horizontal=True, key="data_source",
                      format_func={"upload": "ファイルを読み込む", "current": "いま表示中の分析と同じコメント（設定だけ変える）"}.get)
    got = datapage.upload() if source == "upload" else datapage.current_comments(ctx)
    comments, info = got if got is not None else (None, {})
    cfg, cfg_error, stability = datapage.settings(ctx, None if comments is None else len(comments))
    datapage.start(ctx, source, comments, info, cfg, cfg_error, stability)

st.subheader("保存されている分析結果", anchor=False)
ok = datapage.saved_runs()
st.subheader("2つの分析結果をくらべる", anchor=False)
datapage.compare(ok)
