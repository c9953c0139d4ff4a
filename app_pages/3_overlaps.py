"""分野横断: which frustrations are shared across the values of an attribute and which are particular."""

import streamlit as st

from ui import overlaps_view as view
from ui import terms
from ui.sidebar import page_context

st.title("分野を越えて共通するもやもや")
ctx = page_context()
terms.explain("分野横断", "特有", "一部共通", "参考値", "偏り")
if ctx.filtered.empty:
    st.warning("絞り込みの条件に合うコメントがありません。")
    st.stop()
by = view.pick_attribute(ctx)
if by is None:
    st.stop()
st.subheader(f"テーマ × {by}", anchor=False)
view.heatmap(ctx, by)
st.subheader("分野を越えるテーマ・特有のテーマ", anchor=False)
reach = view.reach_table(ctx, by)
second = view.pick_attribute(ctx, "もう1つの属性でも見る", key="overlap_attr2", exclude=by) if len(ctx.attributes) > 1 else None
if second:
    st.subheader(f"テーマ × {second}", anchor=False)
    view.heatmap(ctx, second, key="heatmap2")
view.side_by_side(ctx, by, reach)
view.pairs(ctx, by)
