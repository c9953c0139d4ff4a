"""Sections of the データと再分析 page: read an office's file safely, start analyses, manage runs.

Reading a file never goes wrong silently: the page shows how each column was understood (text,
id, attributes, ignored and why), every row that was skipped and why, what masking hid, and a
preview; the analysis starts only after the user confirms that mapping. Analyses run as background
jobs (:mod:`ui.jobs_view`).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
import streamlit as st

from analysis.config import PipelineConfig
from analysis.errors import UserError
from analysis.ingest.comments import MAX_UPLOAD_BYTES, LoadResult
from analysis.schema import DatasetInfo
from analysis.store.runs import (
    RunError,
    delete_run,
    get_published,
    set_published,
    storage_problem,
)
from ui import auth, data, jobs_view, rerun, state
from ui.sidebar import PageContext, run_label
from ui.text import md_escape, one_line

NONE = "（使わない）"
LIMIT_MB = MAX_UPLOAD_BYTES // 1024 // 1024
ACCEPT_MB = 5 * LIMIT_MB


# --------------------------------------------------------------------------- reading a file


@st.cache_data(show_spinner=False, max_entries=4)
def _read(digest: str, name: str, sheet: str | None, _data: bytes):
    """The file read into a table (keyed by content digest; the bytes themselves are not hashed), in a
    child process under a memory and time limit, so no file can take the shared server down."""
    from analysis.ingest.importing import refuse_oversized
    from analysis.ingest.isolated import read_table_isolated

    refuse_oversized(_data)
    return read_table_isolated(_data, name, sheet)


@st.cache_data(show_spinner=False, max_entries=4)
def _roles(digest: str, sheet: str | None, _table: pd.DataFrame):
    from analysis.ingest.column_roles import guess_roles

    return guess_roles(_table)


@st.cache_data(show_spinner=False, max_entries=4)
def _masked(digest: str, allow: tuple[str, ...], _comments: pd.DataFrame):
    from analysis.ingest.masking import mask_comments

    return mask_comments(_comments, allow=allow)


def upload() -> tuple[pd.DataFrame, dict] | None:
    """The upload flow: file → sheet → column mapping → masking → preview → confirmation.

    Returns (comments, input info) once the user has confirmed the mapping, else None.
    """
    from analysis.ingest.column_roles import check_text_column
    from analysis.ingest.comments import comments_from_table

    st.caption(f"CSV・TSV・テキスト・Excel（.xlsx）に対応しています。ファイルの大きさは **{LIMIT_MB} MB まで**です。"
               "文字コード（UTF-8・Shift_JIS・Excel の Unicode テキスト）と区切り文字は自動で判断します。")
    # The uploader takes files up to ACCEPT_MB so that one a little over the limit gets a Japanese
    # sentence from the reader, not only the uploader's red mark.
    up = st.file_uploader(f"ファイルを選ぶ（{LIMIT_MB} MB まで）", key="upload_file", max_upload_size=ACCEPT_MB)
    if up is None:
        return None
    raw = up.getvalue()
    digest = hashlib.sha256(raw).hexdigest()[:16]
    sheet = st.session_state.get(f"sheet:{digest}")
    try:
        tr = _read(digest, up.name, sheet, raw)
    except UserError as exc:
        st.error(md_escape(str(exc)), icon=":material/error:")
        return None
    if len(tr.sheets) > 1:
        options = [None] + tr.sheets + ["*"]
        labels = {None: "自動で選ぶ", "*": "同じ見出しのシートをすべて"} | {s: f"{s}（{tr.sheet_rows.get(s, 0)}行）" for s in tr.sheets}
        st.selectbox("読み込むシート", options, key=f"sheet:{digest}", format_func=lambda s: one_line(labels.get(s, s)))
    st.info(md_escape(tr.summary_ja()), icon=":material/info:")
    for note in tr.notes:
        st.caption("・" + md_escape(note))
    roles = _roles(digest, tr.sheet, tr.table)
    cols = [str(c) for c in tr.table.columns]
    c1, c2 = st.columns(2)
    text_col = c1.selectbox("本文（自由記述）の列", cols, index=cols.index(roles.text) if roles.text in cols else 0,
                            key=f"col_text:{digest}", format_func=one_line)
    id_options = [NONE] + [c for c in cols if c != text_col]
    id_col = c2.selectbox("ID の列", id_options, index=id_options.index(roles.id) if roles.id in id_options else 0,
                          key=f"col_id:{digest}", format_func=one_line,
                          help="回答ごとの番号。なければ c001 から自動で付けます。別の年度と照合するときに使います。")
    id_col = None if id_col == NONE else id_col
    attr_options = [c for c in cols if c not in (text_col, id_col)]
    attrs = st.multiselect("属性の列（絞り込みやくらべる軸になる列: 分類、所属、年度、地区、年代 など）", attr_options,
                           default=[a for a in roles.attributes if a in attr_options], key=f"col_attrs:{digest}",
                           format_func=one_line, placeholder="なし")
    if roles.ignored:
        st.caption("使わない列: " + "、".join(f"「{md_escape(c)}」（{md_escape(r)}）" for c, r in roles.ignored.items()))
    for note in roles.notes:
        st.caption("・" + md_escape(note))
    try:
        check_text_column(tr.table, text_col)
        loaded = comments_from_table(tr.table, text_col, attrs, id_col, tr.encoding, line_numbers=tr.line_numbers,
                                     skipped=tr.skipped, notes=[])
    except UserError as exc:
        st.error(md_escape(str(exc)), icon=":material/error:")
        return None
    _report(loaded, tr)
    comments, masked_info = _masking(loaded.comments, digest)
    n1, n2 = st.columns([1, 2])
    name = n1.text_input("データの名前（画面の見出しになります）", value=Path(up.name).stem, key=f"ds_name:{digest}",
                         max_chars=60)
    desc = n2.text_input("データの説明（1〜2文。概要ページに表示します）", key=f"ds_desc:{digest}", max_chars=200,
                         placeholder="例: 2025年度 地域包括支援センター職員アンケートの自由記述")
    st.markdown("**取り込んだコメント（先頭5件）**")
    st.dataframe(comments[["comment_id", "text", *[a for a in comments.columns if a in loaded.report.mapping["attributes"].values()]]].head(5),
                 hide_index=True, key="comments_preview", column_config={"comment_id": "ID", "text": "コメント"})
    confirmed = st.checkbox("列の対応と取り込み結果を確認しました。この内容で分析します。", key=f"confirm:{digest}")
    if not confirmed:
        st.caption("確認のチェックを入れると、分析を始められます。")
        return None
    info = DatasetInfo(name=name.strip() or up.name, description=desc.strip(), kind="upload", source=up.name,
                       encoding=tr.encoding, sheet=tr.sheet, ids="user" if id_col else "generated",
                       columns={"text": text_col, "id": id_col, "attributes": attrs}, masked=masked_info,
                       attributes=tuple(loaded.report.mapping["attributes"].values()))
    return comments, info


def _report(loaded: LoadResult, tr) -> None:
    rep = loaded.report
    st.success(md_escape(rep.summary_ja()), icon=":material/fact_check:")
    if rep.skipped or tr.repaired:
        with st.expander(f"読み飛ばした行・直した行（{len(rep.skipped)} 行・{len(tr.repaired)} 行）", icon=":material/rule:"):
            rows = [{"場所": s.where, "扱い": "読み飛ばし", "理由": s.reason, "元の内容": s.raw} for s in rep.skipped]
            rows += [{"場所": s.where, "扱い": "直して取り込み", "理由": s.reason, "元の内容": s.raw} for s in tr.repaired]
            st.dataframe(pd.DataFrame(rows), hide_index=True, key="skipped_table")


def _masking(comments: pd.DataFrame, digest: str) -> tuple[pd.DataFrame, dict]:
    """Masking of personal data, on by default for uploads, with a review table and an allow list."""
    from analysis.ingest.masking import mask_summary

    on = st.toggle("個人情報を伏せ字にする（人名・電話番号・メールアドレス・郵便番号・住所）", value=True, key=f"mask:{digest}",
                   help="伏せ字にした本文だけが分析・保存・表示・書き出しに使われます。元の本文は保存しません。")
    if not on:
        st.warning("伏せ字にしないまま分析します。個人情報が含まれていないことを確かめてください。", icon=":material/warning:")
        return comments, {"on": False}
    allow_text = st.text_input("伏せ字にしない語（読点や空白で区切る。例: 社協、〇〇市役所、△△町）", key=f"mask_allow:{digest}")
    allow = tuple(sorted({w.strip() for w in allow_text.replace("、", " ").replace(",", " ").split() if w.strip()}))
    masked, review = _masked(digest, allow, comments)
    counts = mask_summary(review)
    if len(review):
        shown = "、".join(f"{k} {v}" for k, v in counts.items())
        with st.expander(f"伏せ字にした箇所を確かめる（{len(review)} か所: {shown}）", icon=":material/visibility_off:"):
            st.caption("この一覧はこの画面でだけ表示され、保存も書き出しもされません。残すべき語があれば、上の欄に書いてください。")
            st.dataframe(review[["comment_id", "kind", "original", "context"]], hide_index=True, key="mask_review",
                         column_config={"comment_id": "ID", "kind": "種類", "original": "伏せ字にした語", "context": "前後"})
    else:
        st.caption("伏せ字にする箇所は見つかりませんでした。")
    return masked, {"on": True, "counts": counts, "allow": list(allow)}


def current_comments(ctx: PageContext | None) -> tuple[pd.DataFrame, DatasetInfo] | None:
    """The comments of the run on screen, to analyse again with other settings."""
    if ctx is None:
        st.info("表示中の分析がありません。ファイルを読み込んでください。")
        return None
    info = DatasetInfo.from_dict(ctx.run.manifest.get("input")).replace(
        attributes=tuple(ctx.run.attributes), primary_attribute=ctx.run.primary_attribute)
    st.caption(f"{len(ctx.run.comments)} 件のコメントを、下の設定で分析し直します。付けたテーマ名は、"
               "はっきり残ったテーマに引き継ぎます。")
    return ctx.run.comments, info


# --------------------------------------------------------------------------- starting an analysis


def settings(ctx: PageContext | None, n_comments: int | None) -> tuple[PipelineConfig | None, str | None, bool]:
    """Settings widgets; returns (config or None, Japanese error or None, measure stability)."""
    base = rerun.config_of(ctx.run if ctx is not None else None)
    st.caption("はじめは、いま表示中の分析と同じ設定になっています。迷ったらそのままで構いません。")
    backend = rerun.backend_widget(base)
    with st.expander("くわしい設定", icon=":material/tune:"):
        values = rerun.parameter_widgets(base)
    values["embedding.backend"] = backend
    # On by default up to 2,000 comments (a few seconds more). The key follows that default: a keyed
    # checkbox keeps its first value, which was drawn before any file had been read.
    small = n_comments is not None and n_comments <= 2000
    stability = st.checkbox("テーマの安定性も測る（乱数を変えて4回やり直すため、時間が少し長くかかります）",
                            value=small, key="with_stability" if small else "with_stability_large",
                            help="各テーマの「安定性」（0〜1）が「テーマ」ページに表示されます。")
    try:
        return rerun.config_from_values(values, base), None, stability
    except UserError as exc:
        return None, str(exc), stability


def start(ctx: PageContext | None, source: str, comments: pd.DataFrame | None, info: DatasetInfo,
          cfg: PipelineConfig | None, cfg_error: str | None, stability: bool) -> None:
    """The run button (or the offer to open an identical saved run)."""
    problem = storage_problem()
    if problem:
        st.error(md_escape(problem), icon=":material/error:")
        return
    same = rerun.same_saved_run(comments, cfg) if comments is not None and cfg is not None else None
    if same is not None:
        st.info(f"同じコメント（ID・本文・属性）・同じ設定の分析がすでに保存されています（{run_label(same)}）。"
                "もう一度分析すると、同じ結果がもう1つ保存されます。", icon=":material/content_copy:")
        if st.button("保存されている分析を表示する", key="open_same_run", icon=":material/visibility:"):
            state.request_run_switch(str(same["path"]), "保存されていた分析に切り替えました。")
            st.rerun()
    go = st.button("もう一度分析する" if same is not None else "この設定で分析する",
                   type="secondary" if same is not None else "primary", disabled=comments is None, key="start_run",
                   icon=":material/play_arrow:")
    if comments is None:
        st.caption("分析するコメントを用意すると押せるようになります。")
    if not go or comments is None:
        return
    if cfg_error or cfg is None:
        st.error(md_escape(cfg_error or "設定を読み取れませんでした。"))
        return
    previous = ctx.path if source == "current" and ctx is not None else None
    try:
        jobs_view.submit(comments, cfg, info, stability_seeds=4 if stability else 0, previous_path=previous)
    except UserError as exc:
        st.error(md_escape(str(exc)), icon=":material/error:")
        return
    state.flash("分析を受け付けました。進み具合は下の「分析の受付状況」とサイドバーに表示されます。"
                "このページを閉じても分析は続き、終わると一覧に加わります。")
    st.rerun()


# --------------------------------------------------------------------------- saved runs


def _publish(run_id: str) -> None:
    if auth.refused("公開する分析の指定"):
        return
    set_published(run_id, by=auth.viewer().user)
    state.flash("この分析を、ほかの人が最初に見る分析（公開中）にしました。")


def _delete(path: str, run_id: str) -> None:
    if auth.refused("分析結果の削除"):
        return
    try:
        kept = delete_run(path)
    except (RunError, UserError) as exc:
        state.warn_once(str(exc))
        return
    data.clear_caches()
    if path == state.active_run_path():
        st.session_state.pop(state.KEY_RUN, None)
    extra = f"（このプログラムが作っていないファイル {len(kept)} 個はフォルダに残しました）" if kept else ""
    state.flash(f"分析結果 {run_id} を削除しました。{extra}")


def saved_runs() -> pd.DataFrame:
    """Readable runs (with the 公開中 mark), broken ones with their reason; switch, publish, delete."""
    runs = data.saved_runs()
    ok, broken = runs[runs["ok"]], runs[~runs["ok"]]
    published = get_published()
    if ok.empty:
        st.info("読み込める分析結果はまだありません。")
    else:
        view = ok.assign(active=["表示中" if p == state.active_run_path() else "" for p in ok["path"]],
                         published=["公開中" if r == published else "" for r in ok["run_id"]],
                         created=ok["created"].astype(str).str.slice(0, 16).str.replace("T", " "),
                         noise_share=ok["noise_share"].astype(float) * 100)  # one decimal for every run
        st.dataframe(view[["active", "published", "input", "created", "n_comments", "n_clusters", "noise_share",
                           "silhouette", "run_id"]], hide_index=True, key="runs_table", column_config={
            "active": st.column_config.TextColumn("表示中", width="small"),
            "published": st.column_config.TextColumn("公開中", width="small",
                                                     help="はじめてこのダッシュボードを開いた人に最初に表示される分析です。"),
            "input": st.column_config.TextColumn("データ"),
            "created": st.column_config.TextColumn("作成日時"),
            "n_comments": st.column_config.NumberColumn("コメント数", format="localized"),
            "n_clusters": st.column_config.NumberColumn("テーマ数", format="%d"),
            "noise_share": st.column_config.NumberColumn("未分類の割合", format="%.1f%%"),
            "silhouette": st.column_config.NumberColumn("まとまりの良さ", format="%.2f",
                                                        help="テーマどうしがどれだけはっきり分かれているか（大きいほどよい）。"),
            "run_id": st.column_config.TextColumn("ID"),
        })
        _actions(ok)
    if not broken.empty:
        st.markdown("**読み込めない分析結果**")
        for _, r in broken.iterrows():
            with st.container(border=True):
                st.markdown(f"{md_escape(Path(r['path']).name)} — 読み込めません: {md_escape(r['problem'])}")
                if auth.viewer().can_analyse:
                    st.button("この分析結果を削除する", key=f"del_broken_{r['run_id']}", on_click=_delete,
                              args=(r["path"], r["run_id"]), icon=":material/delete_forever:")
    return ok


def _actions(ok: pd.DataFrame) -> None:
    labels = {p: run_label(r) for p, (_, r) in zip(ok["path"], ok.iterrows())}
    paths = ok["path"].tolist()
    m1, m2, m3 = st.columns(3)
    with m1:
        target = st.selectbox("分析結果", paths, format_func=lambda p: one_line(labels.get(p, p)), key="manage_switch")
        st.button("この分析を表示する", key="switch_run", on_click=state.set_active_run, args=(target,),
                  disabled=target == state.active_run_path(), icon=":material/visibility:")
    if not auth.viewer().can_analyse:
        m2.caption("公開する分析の指定と削除は「分析」の権限がある利用者だけができます。")
        return
    with m2:
        run_id = ok.loc[ok["path"] == target, "run_id"].iloc[0]
        st.button("ほかの人が最初に見る分析にする（公開）", key="publish_run", on_click=_publish, args=(run_id,),
                  disabled=run_id == get_published(), icon=":material/public:")
    with m3:
        sure = st.checkbox("この分析結果を削除してよいことを確認しました（元に戻せません）", key=f"delete_confirm:{target}")
        st.button("削除する", key="delete_run", disabled=not sure, on_click=_delete, args=(target, run_id),
                  icon=":material/delete_forever:")


# --------------------------------------------------------------------------- comparing runs


def compare(ok: pd.DataFrame) -> None:
    """Two runs over the same data set (by default): which theme became which, after saying how many comments matched."""
    st.caption("設定を変えたとき、どのテーマがそのまま残り、どれが分かれたり、まとまったり、新しく現れたりしたかを示します。"
               "同じコメントどうし（自分の ID 列があれば ID、なければ本文）で照合します。")
    if len(ok) < 2:
        st.caption("比べるには分析結果が2つ以上必要です。")
        return
    active = state.active_run_path()
    paths = ok["path"].tolist()
    after = active if active in paths else paths[0]
    mine = ok[ok["path"] == after].iloc[0]
    same_data = ok[(ok["path"] != after) & ((ok["digest"] == mine["digest"]) | (ok["input"] == mine["input"]))]
    everything = st.checkbox("別のデータの分析結果も選べるようにする", key="cmp_all",
                             help="ふつうは同じデータの分析どうしをくらべます。別のデータどうしでは、共通するコメントがほとんどありません。")
    candidates = ok[ok["path"] != after] if everything else same_data
    if candidates.empty:
        st.caption("表示中の分析と同じデータの分析結果は、ほかにありません（設定を変えて分析し直すと比べられます）。")
        return
    labels = {p: run_label(r) for p, (_, r) in zip(ok["path"], ok.iterrows())}
    before = st.selectbox("前（比べるもと）", candidates["path"].tolist(), format_func=lambda p: one_line(labels.get(p, p)),
                          key="cmp_a")
    st.caption(f"後: {md_escape(labels[after])}（表示中の分析）")
    table, fig, n, key = data.comparison(before, after)
    how = "ID" if key == "comment_id" else "本文"
    if table is None:
        st.warning(f"2つの分析結果には、{how}が一致するコメントが1件もないため、比べられません。")
        return
    st.markdown(f"**共通するコメント: {n} 件**（{how}で照合。前だけ {table.attrs['n_only_a']} 件・後だけ {table.attrs['n_only_b']} 件）")
    counts = table["status_ja"].value_counts()
    st.markdown("　".join(f"**{md_escape(k)}** {v}" for k, v in counts.items()))
    from analysis.report import charts

    st.plotly_chart(fig, key="cmp_sankey", config=charts.plotly_config(displayModeBar=False))
    st.dataframe(table[["status_ja", "label_a", "label_b", "size_a", "size_b", "overlap", "jaccard", "note"]],
                 hide_index=True, key="cmp_table", column_config={
                     "status_ja": "変化", "label_a": "前のテーマ", "label_b": "後のテーマ", "size_a": "前の件数",
                     "size_b": "後の件数", "overlap": "共通の件数",
                     "jaccard": st.column_config.NumberColumn("重なり", format="%.2f",
                                                              help="共通の件数 ÷ どちらかに入る件数（0〜1）。"),
                     "note": "説明"})
