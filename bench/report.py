"""Where the benchmark scripts leave their results: ``bench/results/<kind>-<time>.md`` and
``.json`` (gitignored), with the markdown also printed."""

from __future__ import annotations

import datetime as _dt
import json
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def save(kind: str, rows: list[dict], text: str) -> Path:
    """Write ``text`` (markdown) and ``rows`` (JSON) under a shared time stamp, print ``text``;
    returns the markdown file."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    md = RESULTS / f"{kind}-{stamp}.md"
    md.write_text(text, encoding="utf-8")
    (RESULTS / f"{kind}-{stamp}.json").write_text(json.dumps(rows, ensure_ascii=False, indent=1), encoding="utf-8")
    print(text)
    return md
