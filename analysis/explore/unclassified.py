"""Why a comment is 未分類, and where it would go.

HDBSCAN leaves a comment out of every theme when it lies outside each theme's dense core. For a
reader that is a black box; this module says, per 未分類 comment, in the run's own embedding space:

* ``edge``  (境目): nearly as close to its nearest theme's centre as that theme's outer members
  (at least :data:`EDGE_RATIO` of their :data:`EDGE_QUANTILE` quantile): it could well belong there;
* ``between`` (中間): fairly close (:data:`NEAR_RATIO`) to two themes that are about equally close
  (within :data:`BETWEEN_GAP` of each other, relatively): it speaks to both;
* ``near`` (やや近い): fairly close to one theme, less than its members are to each other;
* ``apart`` (独自): far from every theme: an opinion few others share.

:func:`unclassified_share` gives the share of 未分類 now and after giving the ``edge`` comments
that are close to a theme to it (what the one-click action on the テーマ page does).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..schema import NOISE

#: A 未分類 comment at least as close to the nearest theme's centre as this quantile of the theme's
#: members is on its edge.
EDGE_QUANTILE = 0.10
#: Share of that edge similarity a comment needs to be on the edge / fairly close.
EDGE_RATIO = 0.85
NEAR_RATIO = 0.5
#: Two nearest themes whose centre similarities differ by less than this share are "between".
BETWEEN_GAP = 0.10

REASONS_JA = {
    "edge": "近いテーマ「{near}」の外側のコメントと同じくらい近く、境目にあります。入れてもよいか読んで判断してください。",
    "between": "「{near}」と「{second}」の中間にあり、どちらにもはっきりとは決まりませんでした。",
    "near": "いちばん近いのは「{near}」ですが、そのテーマのコメントどうしほどは似ていません。",
    "apart": "どのテーマのコメントからも離れています。ほかに似た意見の少ない、独自の意見です。",
}
#: The reasons under which the theme page suggests the nearest theme.
CLOSE = ("edge", "between", "near")
REASON_SHORT = {"edge": "境目", "between": "中間", "near": "やや近い", "apart": "独自"}


def _unit(v: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    return v / np.where(n == 0, 1.0, n)


def explain_unclassified(labels: np.ndarray, embeddings: np.ndarray, names: dict[int, str],
                         nearest: np.ndarray | None = None) -> pd.DataFrame:
    """One row per 未分類 comment (``row`` = its index in ``labels``), most likely to belong first.

    ``nearest``: the theme each comment would join (the run's ``nearest_cluster``, which the
    curation's "assign to the nearest theme" uses); default: the theme with the nearest centre.

    Columns: row, nearest, nearest_label, second, second_label, similarity (to the nearest centre),
    edge_similarity (the nearest theme's :data:`EDGE_QUANTILE` member similarity), reason (edge /
    between / apart), reason_short, reason_ja.
    """
    labels = np.asarray(labels)
    cols = ["row", "nearest", "nearest_label", "second", "second_label", "similarity", "edge_similarity",
            "reason", "reason_short", "reason_ja"]
    themes = sorted(int(c) for c in set(labels.tolist()) - {NOISE})
    noise = np.flatnonzero(labels == NOISE)
    if not len(noise) or not themes:
        return pd.DataFrame(columns=cols)
    x = _unit(np.asarray(embeddings, dtype=np.float64))
    centres = _unit(np.stack([x[labels == c].mean(axis=0) for c in themes]))
    edge = np.array([np.quantile(x[labels == c] @ centres[i], EDGE_QUANTILE) for i, c in enumerate(themes)])
    sims = x[noise] @ centres.T
    order = np.argsort(-sims, axis=1, kind="stable")
    rows = []
    index = {c: i for i, c in enumerate(themes)}
    for j, r in enumerate(noise):
        a = int(order[j, 0])
        if nearest is not None and int(nearest[r]) in index:
            a = index[int(nearest[r])]
        others = [int(i) for i in order[j] if int(i) != a]
        b = others[0] if others else None
        s1 = float(sims[j, a])
        s2 = float(sims[j, b]) if b is not None else -1.0
        ratio = s1 / edge[a] if edge[a] > 0 else 0.0
        if ratio >= EDGE_RATIO:
            reason = "edge"
        elif ratio >= NEAR_RATIO and b is not None and s1 - s2 < BETWEEN_GAP * abs(s1):
            reason = "between"
        elif ratio >= NEAR_RATIO:
            reason = "near"
        else:
            reason = "apart"
        near = names.get(themes[a], f"テーマ{themes[a] + 1}")
        second = names.get(themes[b], f"テーマ{themes[b] + 1}") if b is not None else ""
        rows.append({
            "row": int(r), "nearest": themes[a], "nearest_label": near,
            "second": themes[b] if b is not None else NOISE, "second_label": second,
            "similarity": round(s1, 4), "edge_similarity": round(float(edge[a]), 4), "reason": reason,
            "reason_short": REASON_SHORT[reason], "reason_ja": REASONS_JA[reason].format(near=near, second=second),
        })
    out = pd.DataFrame(rows, columns=cols)
    rank = out["reason"].map({"edge": 0, "between": 1, "near": 2, "apart": 3})
    out = out.assign(_rank=rank, _gap=out["similarity"] - out["edge_similarity"])
    return out.sort_values(["_rank", "_gap", "row"], ascending=[True, False, True], kind="stable").drop(
        columns=["_rank", "_gap"]).reset_index(drop=True)


def unclassified_share(labels: np.ndarray, explained: pd.DataFrame) -> tuple[float, float]:
    """(share of 未分類 now, share after the comments that are close to a theme — edge, between,
    near — join their nearest theme)."""
    n = len(labels)
    if n == 0:
        return 0.0, 0.0
    now = int((np.asarray(labels) == NOISE).sum())
    close = int(explained["reason"].isin(CLOSE).sum()) if len(explained) else 0
    return now / n, (now - close) / n
