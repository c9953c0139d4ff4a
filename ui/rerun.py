"""Building runs from the dashboard: first-launch default run, uploads, parameter widgets.

This is the only part of the UI that may start the pipeline (embedding + UMAP); browsing a saved
run never comes here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd
import streamlit as st

from analysis.config import PipelineConfig, config_from_dict
from analysis.corpus import CorpusError
from analysis.runs import Run
from ui import data, state


@dataclass(frozen=True)
class Param:
    """One tunable pipeline parameter as the data page shows it."""

    key: str  # "stage.field" for PipelineConfig.replace, or a top-level field
    label: str
    help: str
    min: float | None = None
    max: float | None = None
    step: float | None = None
    options: tuple[str, ...] | None = None
    option_labels: tuple[str, ...] | None = None


PARAMS: tuple[Param, ...] = (
    Param("hdbscan.min_cluster_size", "1つのテーマに必要な最小の件数", "大きくするとテーマの数が減り、1つひとつが大きくなります。コメントが多いときは、全体の0.5%（1万件なら50件）より小さくはなりません。", 2, 500, 1),
    Param("hdbscan.min_samples", "まとまりの慎重さ", "小さいほど未分類が減り、大きいほど確かなまとまりだけをテーマにします（未分類が増えます）。", 1, 20, 1),
    Param("hdbscan.cluster_selection_method", "テーマの細かさ", "「細かく」は小さなテーマを多めに、「大きく」は大きなテーマを少なめに作ります。",
          options=("leaf", "eom"), option_labels=("細かく（leaf）", "大きく（eom）")),
    Param("umap.n_neighbors", "近所として見る件数", "小さいと細かな違いを、大きいと全体の傾向を重視して配置します。", 2, 50, 1),
    Param("umap.n_components", "テーマ分けに使う次元の数", "ふつうは 5 のままで構いません。大きくすると計算が少し遅くなります。", 2, 15, 1),
    Param("umap.map_min_dist", "地図上の点の詰まり具合", "地図の見た目だけに影響します。小さいほど点が密に集まります。", 0.0, 0.99, 0.05),
    Param("describe.n_keywords", "テーマごとのキーワード数", "テーマの説明に使う言葉の数です。", 3, 20, 1),
    Param("seed", "乱数の種", "同じ値なら同じ結果になります。結果の安定性を確かめるときに変えてみてください。", 0, 9999, 1),
)


def same_saved_run(comments: pd.DataFrame, config: PipelineConfig) -> pd.Series | None:
    """The newest saved run made from the same comment texts with the same settings, if any.

    Run ids end with a fingerprint of config + texts (:func:`analysis.runs.run_fingerprint`), so
    pressing "analyse" twice on one upload can offer the existing result instead of a copy.
    """
    from analysis.config import config_json
    from analysis.embedding import texts_digest
    from analysis.runs import run_fingerprint

    runs = data.saved_runs()
    if runs.empty:
        return None
    fp = run_fingerprint(config_json(config), texts_digest(comments["text_norm"].tolist()))
    hit = runs[runs["run_id"].astype(str).str.endswith(fp)]
    return None if hit.empty else hit.iloc[0]


def param_value(config: PipelineConfig, key: str) -> Any:
    obj: Any = config
    for part in key.split("."):
        obj = getattr(obj, part)
    return obj


def config_from_values(values: dict[str, Any], base: PipelineConfig | None = None) -> PipelineConfig:
    """A config with ``values`` ({"umap.n_neighbors": 8, "embedding.backend": "sudachi", ...}) applied."""
    base = base or PipelineConfig()
    clean = {}
    for k, v in values.items():
        cur = param_value(base, k)
        if isinstance(cur, bool) or cur is None:
            clean[k] = v
        elif isinstance(cur, int) and not isinstance(v, str):
            clean[k] = int(v)
        elif isinstance(cur, float):
            clean[k] = float(v)
        else:
            clean[k] = v
    return base.replace(**clean)


def config_of(run: Run | None) -> PipelineConfig:
    """The configuration a saved run was made with (default if unknown or unreadable)."""
    if run is None:
        return PipelineConfig()
    try:
        return config_from_dict(run.manifest.get("config", {}))
    except (CorpusError, TypeError):
        return PipelineConfig()


def parameter_widgets(base: PipelineConfig, key_prefix: str = "param") -> dict[str, Any]:
    """Draw one widget per :data:`PARAMS` entry (with its one-line explanation); return the values."""
    values: dict[str, Any] = {}
    cols = st.columns(2)
    for i, p in enumerate(PARAMS):
        cur = param_value(base, p.key)
        with cols[i % 2]:
            if p.options:
                labels = dict(zip(p.options, p.option_labels or p.options))
                values[p.key] = st.radio(
                    p.label, p.options, index=p.options.index(cur) if cur in p.options else 0,
                    format_func=labels.get, horizontal=True, key=f"{key_prefix}:{p.key}",
                )
            elif isinstance(cur, float):
                values[p.key] = st.slider(
                    p.label, float(p.min), float(p.max), float(cur), float(p.step), key=f"{key_prefix}:{p.key}"
                )
            else:
                v = int(cur) if cur is not None else int(p.min)
                values[p.key] = st.number_input(
                    p.label, int(p.min), int(p.max), min(max(v, int(p.min)), int(p.max)), int(p.step),
                    key=f"{key_prefix}:{p.key}",
                )
            st.caption(p.help + (f"（{p.min:g}〜{p.max:g}）" if p.min is not None else ""))
    return values


def backend_widget(base: PipelineConfig, key: str = "param:embedding.backend") -> str:
    """Embedding backend choice with a one-line explanation each; unusable ones are listed, not offered."""
    from analysis.embedding import BACKEND_DESCRIPTIONS, available_backends

    avail = available_backends()
    usable = [b for b, (ok, _) in avail.items() if ok]
    if not usable:
        st.error("使える埋め込み方式がありません。必要なパッケージを確認してください。")
        return base.embedding.backend
    cur = base.embedding.backend if base.embedding.backend in usable else usable[0]
    choice = st.radio(
        "文の特徴をとらえる方式（埋め込み）",
        usable,
        index=usable.index(cur),
        format_func=lambda b: f"{b} — {BACKEND_DESCRIPTIONS.get(b, '')}",
        key=key,
    )
    blocked = [f"{b}（{why}）" for b, (ok, why) in avail.items() if not ok]
    if blocked:
        st.caption("この環境では使えない方式: " + "、".join(blocked))
    return choice


def run_with_progress(comments: pd.DataFrame, config: PipelineConfig, input_info: dict, stability_seeds: int = 0,
                      previous: Run | None = None) -> Run | None:
    """Run the pipeline with a progress bar and save it; show errors as messages (no traceback).

    ``previous``: the run being redone with other settings; user-given theme names carry over.
    """
    from analysis.pipeline import run_and_save

    with st.status("分析しています…（初回は1分ほどかかることがあります）", expanded=True) as status:
        bar = st.progress(0.0, text="準備しています")

        def progress(stage: str, frac: float) -> None:
            bar.progress(min(max(float(frac), 0.0), 1.0), text=stage)

        try:
            run = run_and_save(comments, config, input_info=input_info, progress=progress,
                               stability_seeds=stability_seeds, previous=previous)
        except CorpusError as exc:
            status.update(label="分析できませんでした", state="error")
            st.error(str(exc))
            return None
        except Exception as exc:  # the page must stay usable whatever the pipeline raises
            status.update(label="分析できませんでした", state="error")
            st.error(
                "分析の途中で問題が起きました。コメントの件数が少なすぎないか、設定を変えて試してください。"
                f"（詳細: {type(exc).__name__}: {str(exc)[:200]}）"
            )
            return None
        status.update(label="分析が終わりました", state="complete", expanded=False)
    data.clear_caches()
    return run


def build_default_run() -> None:
    """First launch: build the default run on the seed (progress shown), then reuse it."""
    from analysis.pipeline import ensure_default_run

    st.title("連携もやもやマップ")
    with st.status("最初の分析を作成しています（初回だけ、1分ほどかかります）…", expanded=True) as status:
        bar = st.progress(0.0, text="準備しています")
        try:
            run = ensure_default_run(progress=lambda s, f: bar.progress(min(max(float(f), 0.0), 1.0), text=s))
        except Exception as exc:
            status.update(label="最初の分析を作成できませんでした", state="error")
            st.error(f"分析を作成できませんでした（{type(exc).__name__}: {str(exc)[:200]}）")
            st.stop()
        status.update(label="最初の分析ができました", state="complete", expanded=False)
    data.clear_caches()
    state.request_run_switch(str(run.path))
    # Start over so the page is drawn once, without the build title and status above it.
    st.rerun()
