"""Settings for a new analysis: the parameter widgets, the backend choice, the duplicate check.

Analyses themselves run as background jobs (:mod:`ui.jobs_view`); browsing a saved run never
loads UMAP or a model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd
import streamlit as st

from analysis.config import PipelineConfig, config_from_dict
from analysis.errors import CorpusError
from analysis.store.runs import Run
from ui import data


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
          options=("leaf", "eom"), option_labels=("細かく", "大きく")),
    Param("umap.n_neighbors", "近所として見る件数", "小さいと細かな違いを、大きいと全体の傾向を重視して配置します。", 2, 50, 1),
    Param("umap.n_components", "テーマ分けに使う次元の数", "ふつうは 5 のままで構いません。大きくすると計算が少し遅くなります。", 2, 15, 1),
    Param("umap.map_min_dist", "地図上の点の詰まり具合", "地図の見た目だけに影響します。小さいほど点が密に集まります。", 0.0, 0.99, 0.05),
    Param("describe.n_keywords", "テーマごとのキーワード数", "テーマの説明に使う言葉の数です。", 3, 20, 1),
    Param("seed", "乱数の種", "同じ値なら同じ結果になります。結果の安定性を確かめるときに変えてみてください。", 0, 9999, 1),
)


def same_saved_run(comments: pd.DataFrame, config: PipelineConfig) -> pd.Series | None:
    """The newest readable run made from the same comment table (ids, texts, attributes) with the same
    settings, if any.

    Run ids end with a fingerprint of config + the whole comment table
    (:func:`analysis.pipeline.data_digest`), so pressing "analyse" twice on one upload can offer the
    existing result instead of a copy, while the same texts with other ids or attributes are new data.
    """
    from analysis.config import config_json
    from analysis.pipeline import data_digest
    from analysis.store.runs import run_fingerprint

    runs = data.saved_runs()
    if runs.empty:
        return None
    fp = run_fingerprint(config_json(config), data_digest(comments))
    hit = runs[runs["run_id"].astype(str).str.endswith(fp) & runs["ok"]]
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


BACKEND_NAMES_JA = {"hybrid": "標準", "sudachi": "言葉だけ", "use": "意味だけ", "e5": "意味だけ（E5）",
                    "e5-hybrid": "言葉と意味（E5）"}


def backend_widget(base: PipelineConfig, key: str = "param:embedding.backend") -> str:
    """Embedding backend choice with a one-line explanation each; unusable ones are listed, not offered."""
    from analysis.themes.embedding import BACKEND_DESCRIPTIONS, available_backends

    avail = available_backends()
    usable = [b for b, (ok, _) in avail.items() if ok]
    if not usable:
        st.error("使える埋め込み方式がありません。必要なパッケージを確認してください。")
        return base.embedding.backend
    cur = base.embedding.backend if base.embedding.backend in usable else usable[0]
    choice = st.radio(
        "コメントどうしの近さの測り方",
        usable,
        index=usable.index(cur),
        format_func=lambda b: f"{BACKEND_NAMES_JA.get(b, b)} — {BACKEND_DESCRIPTIONS.get(b, '')}",
        key=key,
    )
    blocked = [f"{BACKEND_NAMES_JA.get(b, b)}（{why}）" for b, (ok, why) in avail.items() if not ok]
    if blocked:
        st.caption("この環境では使えない方式: " + "、".join(blocked))
    return choice
