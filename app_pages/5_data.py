"""データと再分析: upload a survey export or rerun with other settings; manage saved runs."""

from pathlib import Path

import pandas as pd
import streamlit as st

from analysis.corpus import MAX_UPLOAD_BYTES, CorpusError, comments_from_table, guess_columns, read_table
from analysis.runs import delete_run
from ui import data, rerun, state
from ui.text import md_escape

st.title("データと再分析")
st.caption(
    "自分の調査の回答（CSV・Excel）を読み込んで分析したり、いまの分析を設定を変えてやり直したりできます。"
    "分析結果はすべて保存され、サイドバーで切り替えられます。"
)
ctx = st.session_state.get("_ctx")
NONE = "（使わない）"
LIMIT_MB = MAX_UPLOAD_BYTES // 1024 // 1024

# ------------------------------------------------------------------ 1. which comments
st.subheader("1. 分析するコメント", anchor=False)
source = st.radio(
    "コメントの出どころ",
    ["upload", "current"],
    format_func={"upload": "ファイルを読み込む", "current": "いま表示中の分析と同じコメント（設定だけ変える）"}.get,
    horizontal=True,
    key="data_source",
    disabled=False,
)
comments: pd.DataFrame | None = None
input_info: dict = {}

if source == "current":
    if ctx is None:
        st.info("表示中の分析がありません。ファイルを読み込んでください。")
    else:
        comments = ctx.run.comments
        prev = ctx.run.manifest.get("input", {})
        input_info = {k: v for k, v in prev.items() if k not in ("digest", "n_rows")}
        st.caption(f"{len(comments)} 件のコメントを、下の設定で分析し直します。")
else:
    st.caption(
        f"CSV・TSV・Excel（.xlsx）に対応しています。ファイルの大きさは **{LIMIT_MB} MB まで**です。"
        "1行目に列名を入れてください。文字コードは UTF-8 または Shift_JIS（CP932）に対応しています。"
    )
    # No ``type=`` filter: a wrong file type gets a readable Japanese message from read_table
    # (e.g. how to resave an old .xls) instead of being silently refused.
    up = st.file_uploader(f"ファイルを選ぶ（CSV・TSV・Excel、{LIMIT_MB} MB まで）", key="upload_file")
    if up is not None:
        try:
            table, encoding = read_table(up.getvalue(), up.name)
        except CorpusError as exc:
            st.error(str(exc), icon=":material/error:")
            table = None
        if table is not None:
            sig = f"{up.name}:{up.size}"
            enc_ja = {"utf-8-sig": "UTF-8", "cp932": "Shift_JIS（CP932）"}.get(encoding or "", "Excel")
            st.caption(f"{len(table)} 行 × {len(table.columns)} 列を読み込みました（文字コード: {enc_ja}）。先頭5行:")
            st.dataframe(table.head(5), hide_index=True, key="upload_preview")
            guess = guess_columns(table)
            cols = [str(c) for c in table.columns]
            opt = [NONE] + cols

            def pick(label: str, guessed: str | None, key: str, help: str, required: bool = False) -> str | None:
                options = cols if required else opt
                index = options.index(guessed) if guessed in options else 0
                v = st.selectbox(label, options, index=index, key=f"{key}:{sig}", help=help)
                return None if v == NONE else v

            c1, c2, c3, c4 = st.columns(4)
            with c1:
                text_col = pick("本文（コメント）の列", guess.text, "col_text", "自由記述が入っている列です。", True)
            with c2:
                cat_col = pick("連携の分類の列", guess.category, "col_cat", "例: 行政×行政 など。なければ「使わない」。")
            with c3:
                role_col = pick("回答者の属性の列", guess.role, "col_role", "例: 行政職員・専門機関職員。なければ「使わない」。")
            with c4:
                id_col = pick("ID の列", guess.id, "col_id", "回答ごとの番号。なければ自動で付けます。")
            try:
                loaded = comments_from_table(table, text_col, cat_col, role_col, id_col, encoding)
            except CorpusError as exc:
                st.error(str(exc), icon=":material/error:")
            else:
                comments = loaded.comments
                st.info(loaded.report.summary_ja(), icon=":material/info:")
                st.dataframe(comments[["comment_id", "text", "category", "role"]].head(5), hide_index=True,
                             key="comments_preview",
                             column_config={"comment_id": "ID", "text": "コメント", "category": "連携の分類", "role": "回答者"})
                input_info = {"name": up.name, "kind": "upload", "encoding": encoding,
                              "columns": {"text": text_col, "category": cat_col, "role": role_col, "id": id_col}}

# ------------------------------------------------------------------ 2. settings
st.subheader("2. 分析の設定", anchor=False)
base_cfg = rerun.config_of(ctx.run if ctx is not None else None)
st.caption("はじめは、いま表示中の分析と同じ設定になっています。迷ったらそのままで構いません。")
backend = rerun.backend_widget(base_cfg)
with st.expander("くわしい設定", icon=":material/tune:"):
    values = rerun.parameter_widgets(base_cfg)
values["embedding.backend"] = backend
stability = st.checkbox(
    "テーマの安定性も測る（乱数を変えて4回やり直すため、時間が少し長くかかります）",
    value=comments is not None and len(comments) <= 2000, key="with_stability",
    help="各テーマの「安定性」（0〜1）が「テーマ」ページに表示されます。",
)

# ------------------------------------------------------------------ 3. run
st.subheader("3. 分析する", anchor=False)
try:
    cfg, cfg_error = rerun.config_from_values(values), None
except CorpusError as exc:
    cfg, cfg_error = None, str(exc)
same = rerun.same_saved_run(comments, cfg) if comments is not None and cfg is not None else None
if same is not None:
    created = str(same["created"])[:16].replace("T", " ")
    st.info(f"同じコメント・同じ設定の分析がすでに保存されています（{created} 作成・テーマ {int(same['n_clusters'])} 個）。"
            "もう一度分析すると、同じ結果がもう1つ保存されます。", icon=":material/content_copy:")
    if st.button("保存されている分析を表示する", key="open_same_run", icon=":material/visibility:"):
        state.request_run_switch(str(same["path"]), "保存されていた分析に切り替えました。")
        st.rerun()
go = st.button("もう一度分析する" if same is not None else "この設定で分析する",
               type="secondary" if same is not None else "primary", disabled=comments is None, key="start_run",
               icon=":material/play_arrow:")
if comments is None:
    st.caption("分析するコメントを用意すると押せるようになります。")
if go and comments is not None:
    if cfg_error:
        st.error(cfg_error)
    else:
        previous = ctx.run if source == "current" and ctx is not None else None
        new = rerun.run_with_progress(comments, cfg, input_info, stability_seeds=4 if stability else 0,
                                      previous=previous)
        if new is not None:
            q = new.manifest.get("quality", {})
            carried = new.manifest.get("labels_carried_over") or {}
            kept = f"付けていたテーマ名のうち {len(carried)} 個を引き継ぎました。" if carried else ""
            state.request_run_switch(
                str(new.path),
                f"新しい分析を作成し、表示を切り替えました（コメント {q.get('n_comments', len(comments))} 件・"
                f"テーマ {q.get('n_clusters', new.n_clusters)} 個・未分類 {q.get('noise_share', 0):.0%}）。{kept}",
            )
            st.rerun()

# ------------------------------------------------------------------ 4. saved runs
st.subheader("保存されている分析結果", anchor=False)
runs = data.saved_runs()
if runs.empty:
    st.info("保存されている分析結果はまだありません。")
    st.stop()
view = runs.copy()
view["active"] = view["path"] == state.active_run_path()
view["created"] = view["created"].astype(str).str.slice(0, 16).str.replace("T", " ")
st.dataframe(
    view[["active", "created", "input", "backend", "n_comments", "n_clusters", "noise_share", "silhouette",
          "relative_validity", "run_id"]],
    hide_index=True,
    key="runs_table",
    column_config={
        "active": st.column_config.CheckboxColumn("表示中", width="small"),
        "created": st.column_config.TextColumn("作成日時"),
        "input": st.column_config.TextColumn("入力"),
        "backend": st.column_config.TextColumn("埋め込み方式"),
        "n_comments": st.column_config.NumberColumn("コメント数"),
        "n_clusters": st.column_config.NumberColumn("テーマ数"),
        "noise_share": st.column_config.NumberColumn("未分類の割合", format="percent"),
        "silhouette": st.column_config.NumberColumn("シルエット係数", format="%.2f",
                                                    help="テーマどうしがどれだけはっきり分かれているか（-1〜1、大きいほどよい）。"),
        "relative_validity": st.column_config.NumberColumn("まとまりの良さ（DBCV）", format="%.2f",
                                                           help="密度にもとづくテーマのまとまりの良さ（大きいほどよい）。"),
        "run_id": st.column_config.TextColumn("ID"),
    },
)
st.caption("未分類の割合が高すぎる（5割以上など）ときは「まとまりの慎重さ」を下げると、テーマに入るコメントが増えます。")

# The id's hash part keeps two runs made in the same minute apart.
labels = {p: f"{str(c)[:16].replace('T', ' ')} ・ {i} ・ テーマ{n} ・ {str(r)[-8:]}" for p, c, i, n, r in
          zip(runs["path"], runs["created"], runs["input"], runs["n_clusters"], runs["run_id"])}

# ------------------------------------------------------------------ compare two runs
st.subheader("2つの分析結果をくらべる", anchor=False)
st.caption(
    "設定を変えたとき、どのテーマがそのまま残り、どれが分かれたり、まとまったり、新しく現れたりしたかを示します。"
    "同じコメントどうし（IDが同じもの）で比べます。"
)
if len(runs) < 2:
    st.caption("比べるには分析結果が2つ以上必要です。")
else:
    paths = runs["path"].tolist()
    active = state.active_run_path()
    c1, c2 = st.columns(2)
    before = c1.selectbox("前（比べるもと）", paths, index=min(1, len(paths) - 1), format_func=labels.get, key="cmp_a")
    after = c2.selectbox("後", paths, index=paths.index(active) if active in paths else 0, format_func=labels.get,
                         key="cmp_b")
    if before == after:
        st.caption("別々の分析結果を選んでください。")
    else:
        table, fig = data.comparison(before, after)
        if table is None:
            st.warning("2つの分析結果に共通するコメントがないため、比べられません。")
        else:
            counts = table["status_ja"].value_counts()
            st.markdown("　".join(f"**{md_escape(k)}** {v}" for k, v in counts.items()))
            st.plotly_chart(fig, key="cmp_sankey", config={"displayModeBar": False})
            st.dataframe(
                table[["status_ja", "label_a", "label_b", "size_a", "size_b", "overlap", "jaccard", "note"]],
                hide_index=True, key="cmp_table",
                column_config={
                    "status_ja": "変化", "label_a": "前のテーマ", "label_b": "後のテーマ", "size_a": "前の件数",
                    "size_b": "後の件数", "overlap": "共通の件数",
                    "jaccard": st.column_config.NumberColumn("重なり", format="%.2f",
                                                             help="共通の件数 ÷ どちらかに入る件数（0〜1）。"),
                    "note": "説明",
                },
            )
m1, m2 = st.columns(2)
with m1:
    st.markdown("**表示を切り替える**")
    target = st.selectbox("分析結果", runs["path"].tolist(), format_func=labels.get, key="manage_switch")
    st.button("この分析を表示する", key="switch_run", on_click=state.set_active_run, args=(target,),
              disabled=target == state.active_run_path(), icon=":material/visibility:")
with m2:
    st.markdown("**削除する**")
    victim = st.selectbox("削除する分析結果", runs["path"].tolist(), format_func=labels.get, key="manage_delete")
    if len(runs) <= 1:
        st.caption("最後の1つは削除できません。")
    else:
        sure = st.checkbox("この分析結果を削除してよいことを確認しました（元に戻せません）",
                           key=f"delete_confirm:{victim}")
        if st.button("削除する", key="delete_run", disabled=not sure, icon=":material/delete_forever:"):
            run_id = runs.loc[runs["path"] == victim, "run_id"].iloc[0]
            delete_run(Path(victim).name)
            data.clear_caches()
            if victim == state.active_run_path():
                remaining = [p for p in runs["path"] if p != victim]
                state.request_run_switch(remaining[0])
            state.flash(f"分析結果 {run_id} を削除しました。")
            st.rerun()
