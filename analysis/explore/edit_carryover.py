"""A rerun keeps what survives: the curation of a previous run carried over to a new one.

:func:`carry_over_edits` matches the themes that clearly survive a rerun of the same comments and
translates every edit whose themes all survive to the new run's ids; the rest is dropped, and the
new run's manifest says what was carried and what was dropped, and why.
"""

from __future__ import annotations

import dataclasses

import pandas as pd

from ..schema import NOISE
from ..store.curated_run import apply_edits
from ..store.edit_log import (
    CurationError,
    EditState,
    apply_entry,
    computed_frames,
    initial_state,
)
from ..store.run_object import Run


def _broad_map(prev_c: pd.DataFrame, s: EditState, themes: dict[int, int]) -> dict[int, int]:
    """Broad theme of the previous run -> the new run's, when all its surviving themes sit under one."""
    out = {}
    for p, group in prev_c.groupby("parent"):
        now = {s.parent.get(themes[int(c)]) for c in group["cluster"] if int(c) in themes}
        now.discard(None)
        if len(now) == 1:
            out[int(p)] = now.pop()
    return out


def carry_over_edits(previous: Run, new: Run, min_jaccard: float = 0.6) -> Run:
    """``new`` with the edits of ``previous`` that still make sense (a rerun of the same comments).

    Themes that clearly survive (:func:`analysis.explore.compare.compare_runs` status kept / renamed with
    Jaccard >= ``min_jaccard``, computed themes of both runs) are matched; an edit is carried when
    every theme it names survives (or was made by a carried split), translated to the new ids:
    merges, splits and moves by comment id (comments still where the edit expects them), 未分類
    assignments of comments still 未分類, broad-theme names whose themes stay under one broad theme.
    The rest is dropped. ``new.manifest["edits_carried_over"]`` records
    ``{"carried": [{"id", "new_id", "kind", "text"}], "dropped": [{"id", "kind", "text", "reason"}]}``.
    Returns the curated new run (its ``edits`` are written by :func:`analysis.store.runs.save_run`).
    """
    from .compare import compare_runs

    entries = list(previous.edits)
    if not entries:
        return new
    prev_a, prev_c = computed_frames(previous)
    table = compare_runs(dataclasses.replace(previous, assignments=prev_a, clusters=prev_c), new)
    themes = {int(r["clusters_a"][0]): int(r["clusters_b"][0]) for _, r in table.iterrows()
              if r["status"] in ("kept", "renamed") and r["jaccard"] >= min_jaccard}
    new_a, new_c = computed_frames(new)
    s = initial_state(new_a, new_c)
    prev_names = dict(zip(previous.clusters["cluster"].astype(int), previous.clusters["label"].astype(str)))
    prev_auto = dict(zip(previous.clusters["cluster"].astype(int), previous.clusters["auto_label"].astype(str))) \
        if "auto_label" in previous.clusters else {}
    broad = _broad_map(prev_c, s, themes)
    out, carried, dropped, names = [], [], [], {}

    def theme(c: int) -> int:
        if c == NOISE:
            return NOISE
        if c not in themes:
            raise CurationError(f"テーマ「{prev_names.get(c, c)}」は新しい分析では同じ形で残っていません。")
        return themes[c]

    def here(ids: list[str]) -> list[str]:
        return [i for i in ids if i in s.row]

    for e in entries:
        kind, a = e["kind"], e["args"]
        try:
            if kind == "merge":
                args = {"clusters": [theme(int(c)) for c in a["clusters"]]}
            elif kind == "split":
                c = theme(int(a["cluster"]))
                ids = [i for i in here(a["comment_ids"]) if s.labels[s.row[i]] == c]
                if not ids:
                    raise CurationError("分けたコメントが、新しい分析では同じテーマにありません。")
                args = {"cluster": c, "comment_ids": ids, "new_cluster": s.next_cluster(),
                        "auto_label": a.get("auto_label", "")}
            elif kind == "move":
                to = theme(int(a["to"]))
                ids = [i for i in here(a["comment_ids"]) if s.labels[s.row[i]] != to]
                if not ids:
                    raise CurationError("移したコメントは、新しい分析ではすでに移し先にあります。")
                args = {"comment_ids": ids, "to": to}
            elif kind == "assign":
                targets = {cid: theme(int(t)) for cid, t in a["targets"].items()
                           if cid in s.row and s.labels[s.row[cid]] == NOISE and int(t) in themes}
                if not targets:
                    raise CurationError("割り当てたコメントは、新しい分析ではもう未分類でないか、行き先のテーマが残っていません。")
                args = {"targets": targets, "min_strength": a.get("min_strength")}
            else:
                p = int(a["parent"])
                if p not in broad:
                    raise CurationError("この大きなテーマは、新しい分析では同じ形で残っていません。")
                args = {"parent": broad[p], "name": a["name"]}
            entry = {**e, "id": len(out) + 1, "args": args, "carried_from": {"run_id": previous.run_id, "id": e["id"]}}
            apply_entry(s, entry)
        except CurationError as exc:
            dropped.append({"id": e["id"], "kind": kind, "text": e.get("text", ""), "reason": str(exc)})
            continue
        if kind == "split":
            old_k, new_k = int(a["new_cluster"]), args["new_cluster"]
            themes[old_k] = new_k
            if prev_names.get(old_k) and prev_names.get(old_k) != prev_auto.get(old_k):
                names[new_k] = prev_names[old_k]
        out.append(entry)
        carried.append({"id": e["id"], "new_id": entry["id"], "kind": kind, "text": e.get("text", "")})
    new.manifest["edits_carried_over"] = {"carried": carried, "dropped": dropped}
    if not out:
        return new
    curated = apply_edits(dataclasses.replace(new, path=None), out)
    for c, name in names.items():  # names users gave split themes: save_run writes them to labels.json
        curated.clusters.loc[curated.clusters["cluster"] == c, "label"] = name
    return dataclasses.replace(curated, path=new.path)
