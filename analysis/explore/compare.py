"""Compare two runs: which theme became which.

Comments present in both runs are matched by the user's own id column when both runs have one
(or both analysed the seed), otherwise by their text: generated ids (c001, c002 …) only number the
rows of one file and say nothing about another file. Only matched comments count. For every pair
of clusters (a from the earlier run, b from the later) the overlap ``N[a, b]`` gives three shares:

* ``share_ab = N / size_a``: how much of a went to b;
* ``share_ba = N / size_b``: how much of b came from a;
* ``jaccard = N / (size_a + size_b - N)``.

Sizes count only the common comments, noise (-1) included, so a theme that dissolves into noise
has small shares everywhere. Statuses, decided in this order:

``split`` 分割      a feeds two or more b that each come mainly from a (share_ba >= ``main_share``)
                    and each take a real part of a (share_ab >= ``part_share``, or at least
                    ``min_overlap`` comments)
``merged`` 統合     b receives two or more a that each go mainly to b and are a real part of b
                    (the same two tests, mirrored)
``kept`` 維持       the rest are paired one to one by optimal assignment (Hungarian algorithm on
                    the Jaccard matrix); a pair with jaccard >= ``keep_jaccard`` is kept,
``renamed`` 名称変更   ... or renamed when its label differs (a user name, or other keywords;
                    the same keywords in another order count as the same label),
``changed`` 一部変化   ... or changed when jaccard is between ``match_jaccard`` and ``keep_jaccard``
``gone`` 消滅       an a with no partner (its members went to noise or were spread thin)
``new`` 新規        a b with no partner
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import CorpusError
from ..schema import FONT_FAMILY, NOISE, NOISE_LABEL, theme_color
from ..store.runs import Run, load_run

STATUS_JA: dict[str, str] = {
    "kept": "維持",
    "renamed": "名称変更",
    "changed": "一部変化",
    "split": "分割",
    "merged": "統合",
    "new": "新規",
    "gone": "消滅",
}
COLUMNS = ["status", "status_ja", "clusters_a", "clusters_b", "label_a", "label_b", "size_a", "size_b",
           "overlap", "jaccard", "note"]


def _as_run(run: Run | str | Path) -> Run:
    return run if isinstance(run, Run) else load_run(run)


def _cluster_ids(run: Run) -> list[int]:
    return sorted(int(c) for c in run.clusters["cluster"] if int(c) != NOISE)


def _labels(run: Run) -> dict[int, str]:
    out = {int(c): str(l) for c, l in zip(run.clusters["cluster"], run.clusters["label"])}
    out[NOISE] = NOISE_LABEL
    return out


def has_own_ids(run: Run) -> bool:
    """Whether the run's comment ids are meaningful across files (the user's id column, or the seed)."""
    info = run.manifest.get("input") if isinstance(run.manifest.get("input"), dict) else {}
    cols = info.get("columns") if isinstance(info.get("columns"), dict) else {}
    return info.get("kind") == "seed" or bool(cols.get("id")) or info.get("ids") == "user"


def match_key(run_a: Run, run_b: Run) -> str:
    """``"comment_id"`` when both runs carry meaningful ids, else ``"text_norm"``."""
    return "comment_id" if has_own_ids(run_a) and has_own_ids(run_b) else "text_norm"


def _keyed(run: Run, key: str) -> pd.Series:
    """Cluster per matching key; repeated texts get ``#2``, ``#3`` … so each matches once."""
    keys = run.comments[key].astype(str)
    if key == "text_norm":
        keys = keys + keys.groupby(keys).cumcount().map(lambda i: "" if i == 0 else f"#{i + 1}")
    return pd.Series(run.assignments["cluster"].astype(int).to_numpy(), index=keys.to_numpy())


def aligned_labels(run_a: Run | str | Path, run_b: Run | str | Path) -> pd.DataFrame:
    """Cluster of each comment present in both runs: DataFrame indexed by the matching key, columns
    ``a``, ``b`` (int, -1 = noise), in run a's order. ``attrs``: ``n_only_a``, ``n_only_b``, ``key``."""
    ra, rb = _as_run(run_a), _as_run(run_b)
    key = match_key(ra, rb)
    a, b = _keyed(ra, key), _keyed(rb, key)
    common = a.index[a.index.isin(b.index)]
    if len(common) == 0:
        how = "ID" if key == "comment_id" else "本文"
        raise CorpusError(f"2つの分析結果には、{how}が一致するコメントが1件もないため、比較できません。")
    out = pd.DataFrame({"a": a.loc[common].to_numpy(), "b": b.loc[common].to_numpy()}, index=common)
    out.attrs.update(n_only_a=int(len(a) - len(common)), n_only_b=int((~b.index.isin(a.index)).sum()), key=key)
    return out


def matched_count(run_a: Run | str | Path, run_b: Run | str | Path) -> tuple[int, str]:
    """(number of comments the two runs share, matching key) — 0 when nothing matches."""
    ra, rb = _as_run(run_a), _as_run(run_b)
    key = match_key(ra, rb)
    a, b = _keyed(ra, key), _keyed(rb, key)
    return int(a.index.isin(b.index).sum()), key


def overlap_matrix(run_a: Run | str | Path, run_b: Run | str | Path, include_noise: bool = True) -> pd.DataFrame:
    """Counts of common comments per (cluster in a, cluster in b).

    Returns DataFrame (k_a [+1], k_b [+1]): index = a's cluster ids ascending, columns = b's, with
    -1 (未分類) last on both axes when ``include_noise``. Clusters with no common comment get zeros.
    """
    ra, rb = _as_run(run_a), _as_run(run_b)
    al = aligned_labels(ra, rb)
    rows = _cluster_ids(ra) + ([NOISE] if include_noise else [])
    cols = _cluster_ids(rb) + ([NOISE] if include_noise else [])
    counts = pd.crosstab(al["a"], al["b"]).reindex(index=rows, columns=cols, fill_value=0)
    counts.index.name, counts.columns.name = "cluster_a", "cluster_b"
    return counts.astype(int)


def jaccard_matrix(run_a: Run | str | Path, run_b: Run | str | Path) -> pd.DataFrame:
    """Jaccard index of members (common comments) for every (cluster in a, cluster in b), noise excluded."""
    full = overlap_matrix(run_a, run_b, include_noise=True)
    n = full.to_numpy(dtype=float)
    sa, sb = n.sum(axis=1), n.sum(axis=0)
    j = n / np.maximum(sa[:, None] + sb[None, :] - n, 1.0)
    return pd.DataFrame(j, index=full.index, columns=full.columns).drop(index=NOISE, columns=NOISE)


def _same_label(a: str, b: str) -> bool:
    """Equal, or the same automatic keywords in another order (新しい run の c-TF-IDF may reorder them)."""
    return a == b or sorted(a.split("・")) == sorted(b.split("・"))


def _flows(counts: np.ndarray, ids: list[int], labels: dict[int, str], k: int = 3) -> str:
    order = np.argsort(-counts, kind="stable")
    parts = [f"「{labels[ids[i]]}」{int(counts[i])}件" for i in order[:k] if counts[i] > 0]
    return "、".join(parts)


def compare_runs(
    run_a: Run | str | Path,
    run_b: Run | str | Path,
    keep_jaccard: float = 0.5,
    match_jaccard: float = 0.2,
    main_share: float = 0.5,
    part_share: float = 0.2,
    min_overlap: int = 3,
) -> pd.DataFrame:
    """Match the themes of run a (before) with those of run b (after); see the module doc.

    Parameters
    ----------
    run_a, run_b : runs, or paths / run ids of saved runs
    keep_jaccard, match_jaccard, main_share, part_share : thresholds (module doc)
    min_overlap : a piece of a split or merge also counts when it holds at least this many
        comments, even if it is less than ``part_share`` of the other side

    Returns
    -------
    DataFrame, one row per event, in run a's cluster order with ``new`` rows last:
    ``status`` (code), ``status_ja``, ``clusters_a`` / ``clusters_b`` (lists of cluster ids; one
    side has two or more for split / merged, and is empty for new / gone), ``label_a`` / ``label_b``
    (labels joined with ``／``), ``size_a`` / ``size_b`` (common comments in those clusters),
    ``overlap`` (comments shared), ``jaccard`` (of the two groups), ``note`` (Japanese sentence
    saying where members went or came from). ``attrs``: ``n_common``, ``n_only_a``, ``n_only_b``.
    """
    ra, rb = _as_run(run_a), _as_run(run_b)
    full = overlap_matrix(ra, rb, include_noise=True)
    n_full = full.to_numpy(dtype=float)
    ids_a, ids_b = list(full.index), list(full.columns)  # noise last on both axes
    ka, kb = len(ids_a) - 1, len(ids_b) - 1
    n = n_full[:ka, :kb]
    sa, sb = n_full.sum(axis=1)[:ka], n_full.sum(axis=0)[:kb]
    share_ab = n / np.maximum(sa[:, None], 1.0)
    share_ba = n / np.maximum(sb[None, :], 1.0)
    jac = n / np.maximum(sa[:, None] + sb[None, :] - n, 1.0)
    la, lb = _labels(ra), _labels(rb)

    # A piece counts when it is a real share of the other side or at least `min_overlap` comments:
    # several small themes folding into one big theme is a merge even if each is < part_share of it.
    real = n >= min_overlap
    split = {i: [j for j in np.argsort(-n[i], kind="stable") if share_ba[i, j] >= main_share and (share_ab[i, j] >= part_share or real[i, j])]
             for i in range(ka)}
    split = {i: js for i, js in split.items() if len(js) >= 2}
    merged = {j: [i for i in np.argsort(-n[:, j], kind="stable") if share_ab[i, j] >= main_share and (share_ba[i, j] >= part_share or real[i, j])]
              for j in range(kb)}
    merged = {j: is_ for j, is_ in merged.items() if len(is_) >= 2}
    used_a = set(split) | {i for is_ in merged.values() for i in is_}
    used_b = set(merged) | {j for js in split.values() for j in js}

    pairs: list[tuple[int, int]] = []
    free_a = [i for i in range(ka) if i not in used_a]
    free_b = [j for j in range(kb) if j not in used_b]
    if free_a and free_b:
        from scipy.optimize import linear_sum_assignment

        sub = jac[np.ix_(free_a, free_b)]
        r, c = linear_sum_assignment(-sub)
        pairs = [(free_a[x], free_b[y]) for x, y in zip(r, c) if sub[x, y] >= match_jaccard]

    def row(status: str, ia: list[int], ib: list[int], note: str) -> dict[str, Any]:
        size_a = float(sum(sa[i] for i in ia))
        size_b = float(sum(sb[j] for j in ib))
        ov = float(n[np.ix_(ia, ib)].sum()) if ia and ib else 0.0
        denom = size_a + size_b - ov
        return {
            "status": status,
            "status_ja": STATUS_JA[status],
            "clusters_a": [int(ids_a[i]) for i in ia],
            "clusters_b": [int(ids_b[j]) for j in ib],
            "label_a": "／".join(la[ids_a[i]] for i in ia),
            "label_b": "／".join(lb[ids_b[j]] for j in ib),
            "size_a": int(size_a),
            "size_b": int(size_b),
            "overlap": int(ov),
            "jaccard": round(ov / denom, 4) if denom > 0 else 0.0,
            "note": note,
        }

    rows: list[tuple[tuple, dict[str, Any]]] = []
    for i, js in split.items():
        note = f"「{la[ids_a[i]]}」が{len(js)}つに分かれました: " + _flows(n_full[i], ids_b, lb, k=len(js) + 1)
        rows.append(((0, i), row("split", [i], js, note)))
    for j, is_ in merged.items():
        note = f"{len(is_)}つのテーマが「{lb[ids_b[j]]}」にまとまりました: " + _flows(n_full[:, j], ids_a, la, k=len(is_) + 1)
        rows.append(((0, min(is_)), row("merged", is_, [j], note)))
    for i, j in pairs:
        if jac[i, j] >= keep_jaccard:
            status = "kept" if _same_label(la[ids_a[i]], lb[ids_b[j]]) else "renamed"
        else:
            status = "changed"
        note = {
            "kept": "同じテーマとして残っています。",
            "renamed": f"ほぼ同じメンバーで、名前が「{la[ids_a[i]]}」から「{lb[ids_b[j]]}」に変わりました。",
            "changed": "メンバーが一部入れ替わっています。行き先: " + _flows(n_full[i], ids_b, lb),
        }[status]
        rows.append(((0, i), row(status, [i], [j], note)))
    paired_a = {i for i, _ in pairs}
    paired_b = {j for _, j in pairs}
    for i in range(ka):
        if i not in used_a and i not in paired_a:
            rows.append(((0, i), row("gone", [i], [], "対応するテーマがありません。行き先: " + (_flows(n_full[i], ids_b, lb) or "なし"))))
    for j in range(kb):
        if j not in used_b and j not in paired_b:
            rows.append(((1, j), row("new", [], [j], "新しいテーマです。出どころ: " + (_flows(n_full[:, j], ids_a, la) or "なし"))))
    rows.sort(key=lambda t: t[0])
    out = pd.DataFrame([r for _, r in rows], columns=COLUMNS)
    al = aligned_labels(ra, rb)
    out.attrs.update(n_common=int(len(al)), **al.attrs)
    return out


def carry_over_labels(old_run: Run | str | Path, new_run: Run | str | Path, min_jaccard: float = 0.6) -> dict[int, str]:
    """User-given theme names of ``old_run`` to reuse in ``new_run``: ``{new cluster id: name}``.

    Only themes the user renamed (``label`` differs from ``auto_label``) and that clearly survive
    (status kept / renamed with Jaccard >= ``min_jaccard``) are carried over; split, merged and
    changed themes are left for the user to name again.
    """
    ro, rn = _as_run(old_run), _as_run(new_run)
    auto = dict(zip(ro.clusters["cluster"].astype(int), ro.clusters.get("auto_label", ro.clusters["label"]).astype(str)))
    user = {int(c): str(l) for c, l in zip(ro.clusters["cluster"], ro.clusters["label"]) if str(l) != auto.get(int(c))}
    table = compare_runs(ro, rn)
    out: dict[int, str] = {}
    for _, r in table.iterrows():
        if r["status"] in ("kept", "renamed") and r["jaccard"] >= min_jaccard:
            old, new = r["clusters_a"][0], r["clusters_b"][0]
            if old in user:
                out[int(new)] = user[old]
    return out


def apply_labels(run: Run, labels: dict[int, str]) -> None:
    """Set theme names on ``run`` (e.g. from :func:`carry_over_labels`).

    A saved run keeps them in labels.json (written under the run's lock); an unsaved run keeps
    them in memory and :func:`analysis.store.runs.save_run` writes them with the run.
    """
    from ..store.runs import rename_cluster

    for cluster, name in labels.items():
        if run.path is not None:
            rename_cluster(run, int(cluster), name)
        else:
            run.clusters.loc[run.clusters["cluster"] == int(cluster), "label"] = name


def _rgba(hex_color: str, alpha: float) -> str:
    h = hex_color.lstrip("#")
    return f"rgba({int(h[0:2], 16)},{int(h[2:4], 16)},{int(h[4:6], 16)},{alpha})"


def comparison_sankey(
    run_a: Run | str | Path,
    run_b: Run | str | Path,
    include_noise: bool = True,
    min_flow: int = 1,
    title: str | None = None,
    names: tuple[str, str] | None = None,
):
    """Plotly Sankey of how the common comments move from run a's themes (left) to run b's (right).

    Node labels are ``label（n件）`` (HTML-escaped); flows smaller than ``min_flow`` comments are
    hidden. A theme keeps its own colour (by id) on each side, flows take the colour of their left
    theme. ``names`` are readable names of the two runs for the title (default: data set name and
    date). Returns a ``plotly.graph_objects.Figure`` with one ``Sankey`` trace.
    """
    import plotly.graph_objects as go

    ra, rb = _as_run(run_a), _as_run(run_b)
    counts = overlap_matrix(ra, rb, include_noise=include_noise)
    la, lb = _labels(ra), _labels(rb)
    ids_a, ids_b = list(counts.index), list(counts.columns)
    n = counts.to_numpy()
    color = theme_color
    node_labels = [f"{html.escape(la[c])}（{int(n[i].sum())}件）" for i, c in enumerate(ids_a)]
    node_labels += [f"{html.escape(lb[c])}（{int(n[:, j].sum())}件）" for j, c in enumerate(ids_b)]
    node_colors = [color(c) for c in ids_a] + [color(c) for c in ids_b]
    src, dst, val, link_colors, hover = [], [], [], [], []
    for i, ca in enumerate(ids_a):
        for j, cb in enumerate(ids_b):
            if n[i, j] >= max(1, min_flow):
                src.append(i)
                dst.append(len(ids_a) + j)
                val.append(int(n[i, j]))
                link_colors.append(_rgba(color(ca), 0.35))
                hover.append(f"{html.escape(la[ca])} → {html.escape(lb[cb])}")
    fig = go.Figure(
        go.Sankey(
            arrangement="snap",
            node={"label": node_labels, "color": node_colors, "pad": 12, "thickness": 14},
            link={"source": src, "target": dst, "value": val, "color": link_colors, "customdata": hover,
                  "hovertemplate": "%{customdata}<br>%{value}件<extra></extra>"},
        )
    )
    name_a, name_b = (html.escape(n) for n in (names or (run_name(ra), run_name(rb))))
    fig.update_layout(
        title=html.escape(title) if title else f"テーマの対応: {name_a}（左）→ {name_b}（右）",
        font={"family": FONT_FAMILY, "size": 12},
        height=max(400, 26 * max(len(ids_a), len(ids_b))),
        margin={"l": 10, "r": 10, "t": 50, "b": 10},
    )
    return fig


def run_name(run: Run) -> str:
    """A readable short name: data set name and creation date (「連携の“もやもや”集（2022） 12/01 15:05」)."""
    created = str(run.manifest.get("created", ""))[5:16].replace("T", " ").replace("-", "/")
    return " ".join(x for x in (run.dataset["name"] or "分析結果", created) if x)
