"""The seed: the 連携の"もやもや"集 (2022) markdown document in ``data/``, parsed into a comment table.

:func:`load_seed` gives its 108 comments with the two attributes 連携の分類 and 回答者; headings, the table of
contents, page markers (①, ②) and the preface are not comments. The table has the columns of
:data:`analysis.schema.COMMENT_COLUMNS` (see :mod:`analysis.ingest.comments` for what each holds).
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from ..schema import (
    CATEGORIES,
    DATA_DIR,
    ROLE_AGENCY,
    ROLE_GOV,
    SEED_CATEGORY,
    SEED_ROLE,
    UNKNOWN,
)
from .comments import finish_table

SEED_PATH = DATA_DIR / "renkei_moyamoya_2022.md"

__all__ = ["SEED_PATH", "load_seed", "parse_seed"]


# --------------------------------------------------------------------------- seed document

_BOLD = re.compile(r"\*\*(.+?)\*\*", re.DOTALL)
_SECTION = re.compile(r"^([1-4])\.\s*(.*もやもや)$")
_PAGE_MARKER = re.compile(r"^[①-⑳]$")


def _strip_heading(line: str) -> tuple[bool, str]:
    m = re.match(r"^#{1,6}\s+(.*)$", line)
    return (True, m.group(1).strip()) if m else (False, line)


def _paragraphs(lines: list[str]) -> list[tuple[int, list[str]]]:
    """Group lines into blank-line separated paragraphs; returns (1-based first line, lines)."""
    paras: list[tuple[int, list[str]]] = []
    current: list[str] = []
    start = 0
    for i, raw in enumerate(lines, start=1):
        line = raw.rstrip()
        if not line.strip():
            if current:
                paras.append((start, current))
                current = []
            continue
        if not current:
            start = i
        current.append(line.strip())
    if current:
        paras.append((start, current))
    return paras


def _role_from_heading(heading: str) -> str | None:
    if "回答" not in heading:
        return None
    if "行政職員" in heading:
        return ROLE_GOV
    if "専門機関" in heading:
        return ROLE_AGENCY
    return None


def parse_seed(markdown: str) -> pd.DataFrame:
    """Parse the 連携の"もやもや"集 markdown into a comment table.

    Headings, the table of contents, page markers (①, ②) and the preface are skipped; lines of
    one paragraph are joined into one comment (the document breaks some comments across lines).
    Bold phrases are kept in ``emphasis`` and removed from ``text``.
    """
    lines = markdown.splitlines()
    rows: list[dict] = []
    category: str | None = None
    role = UNKNOWN
    for line_no, para in _paragraphs(lines):
        first_is_heading, first = _strip_heading(para[0])
        joined = "".join(_strip_heading(p)[1] for p in para)
        bare = joined.replace("*", "").strip()
        is_bold_block = joined.startswith("**") and joined.endswith("**") and len(para) > 1
        if first_is_heading or is_bold_block:
            m = _SECTION.match(re.sub(r"\s+", " ", bare))
            if m:
                category = CATEGORIES[int(m.group(1)) - 1]
                role = UNKNOWN
                continue
            heading_role = _role_from_heading(bare)
            if heading_role is not None and category is not None:
                role = heading_role
            continue
        if category is None or _PAGE_MARKER.match(bare):
            continue  # preface, table of contents, page markers
        emphasis = [m.strip() for m in _BOLD.findall(joined) if m.strip()]
        text = joined.replace("**", "").strip()
        rows.append(
            {
                "text": text,
                SEED_CATEGORY: category,
                SEED_ROLE: role,
                "emphasis": emphasis,
                "source_line": line_no,
            }
        )
    return finish_table(pd.DataFrame(rows), attributes=[SEED_CATEGORY, SEED_ROLE])


def load_seed(path: str | Path | None = None) -> pd.DataFrame:
    """Load and parse the seed document shipped in ``data/`` (108 comments)."""
    p = Path(path) if path is not None else SEED_PATH
    return parse_seed(p.read_text(encoding="utf-8"))
