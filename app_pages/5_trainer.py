"""研修用の事例選び: find quotes, keep them in named sets with notes, export them as a handout."""

import streamlit as st

from ui import trainer_view as view
from ui.sidebar import page_context

st.title("研修用の事例選び")
st.caption("研修で話し合いの材料にするコメントを選び、メモを付けて、配布資料（Word）や CSV・Markdown に書き出せます。"
           "選んだコメント（候補リスト）は自動で保存され、ページを読み込み直してもサーバーを再起動しても残ります。")
ctx = page_context()
view.shortlist_line(ctx)
view.tabs(ctx)
