"""Column roles: which column of a user table is the comment text, the id, a grouping attribute.

Decided from content as well as headers, because office exports name columns freely: a column
headed 「回答日」 holds dates, 「comment-id」 holds numbers, and a Google Forms question
「連携する中で感じている“もやもや”を自由にお書きください。」 holds the comments. The value-shape
predicates here (numbers, dates in the forms Japanese offices write them, id-like codes,
sentences) are shared with the file readers (:mod:`analysis.ingest.table_assembly`,
:mod:`analysis.ingest.file_records`), which use them to tell a header row from data and to check
repaired rows.

Every value is NFKC-normalised before it is judged (full-width digits, ２０２４／４／１), and
the patterns match Japanese as well as ASCII text.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd

from analysis.errors import CorpusError

# --------------------------------------------------------------------------- value shapes


def norm(value: str) -> str:
    return unicodedata.normalize("NFKC", value).strip()


_NUMBER = re.compile(r"[+\-]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?%?|[+\-]?\.\d+")
_INTEGER = re.compile(r"\d{1,15}")
_TIME = r"(?:午前|午後|AM|PM|am|pm)?\s*\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?\s*(?:午前|午後|AM|PM|am|pm)?"
_ZONE = r"(?:\s*(?:Z|[+\-]\d{2}:?\d{2}|GMT[+\-]?\d{0,2}(?::?\d{2})?|UTC|JST))?"
_WEEKDAY = r"(?:\s*\([^)]{1,3}\))?"
_DATE = re.compile(
    "|".join(
        (
            # 2024/4/1, 2024-04-01 10:00, 2024年4月1日(月), 2024-04-01T10:00:00Z, 2024/04, 2024年4月
            # (never 2024.5 alone, which is a number)
            rf"\d{{4}}(?:[-/.年]\d{{1,2}}[-/.月]\d{{1,2}}日?|[-/年]\d{{1,2}}月?){_WEEKDAY}(?:[ T]*{_TIME})?{_ZONE}",
            # 4/1/24 10:23:45 (Microsoft Forms in English), 4月1日
            rf"\d{{1,2}}/\d{{1,2}}/\d{{2,4}}(?:\s+{_TIME})?{_ZONE}",
            rf"\d{{1,2}}月\d{{1,2}}日{_WEEKDAY}(?:\s*{_TIME})?",
            # 令和6年4月1日, R6.4.1, H31/4/30
            rf"(?:令和|平成|昭和|[RHS])\s*(?:\d{{1,2}}|元)\s*[年./]\s*\d{{1,2}}\s*[月./]\s*\d{{1,2}}\s*日?{_WEEKDAY}"
            rf"(?:\s*{_TIME})?",
            _TIME,
            # JavaScript's Date.toString(), as in Polis exports
            r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) [A-Z][a-z]{2} \d{1,2} \d{4} \d{2}:\d{2}:\d{2}.*",
        )
    )
)
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_CODE = re.compile(r"[^\s、。,，]{1,20}")
_QUESTION = ("ください", "下さい", "お書き", "ご記入", "教えて", "お聞かせ", "お答え", "自由記述", "ご自由に")


def is_number(v: str) -> bool:
    return bool(_NUMBER.fullmatch(v))


def is_date(v: str) -> bool:
    return bool(_DATE.fullmatch(v))


def _is_code(v: str) -> bool:
    """Short id-like token: one word with a digit, not a decimal number (1, A-001, R6-12, c0042)."""
    return bool(_CODE.fullmatch(v)) and any(c.isdigit() for c in v) and (
        bool(_INTEGER.fullmatch(v)) or not is_number(v)
    )


def is_texty(v: str) -> bool:
    """Sentence-like cell: long enough and neither a number nor a date."""
    return len(v) >= 10 and not is_number(v) and not is_date(v)


def is_question(v: str) -> bool:
    return any(q in v for q in _QUESTION)


# Japanese sentences end in a predicate (…なる, …ない, …した, …です); column labels end in a
# noun (…こと, 自由記述, もやもや). Cheap, and only used as one piece of header evidence.
_PREDICATE_END = ("る", "い", "た", "だ", "す", "う", "ず", "ぬ", "ね", "よ", "。")


def is_sentence(v: str) -> bool:
    return len(v) >= 8 and v.rstrip("」』）)!！").endswith(_PREDICATE_END)


TEXT_HINTS = (
    "自由記述", "記述", "意見", "コメント", "本文", "内容", "もやもや", "感想", "回答", "お書き",
    "ご記入", "text", "comment", "body", "opinion",
)
_ID_HINTS = ("id", "no", "no.", "番号", "№", "通し番号", "整理番号", "回答番号", "回答id")
_DATE_HINTS = (
    "日付", "日時", "時刻", "年月日", "タイムスタンプ", "timestamp", "date", "time", "開始", "完了",
)
_EMAIL_HINTS = ("メール", "mail")
_NAME_HINTS = ("氏名", "名前", "お名前", "記入者", "name")
_ATTRIBUTE_HINTS = (
    "分類", "カテゴリ", "区分", "分野", "属性", "所属", "職種", "立場", "役割", "年度", "年代",
    "年齢", "地区", "地域", "性別", "経験", "連携", "category", "role",
)
HEADER_WORDS = TEXT_HINTS + _ID_HINTS + _DATE_HINTS + _EMAIL_HINTS + _NAME_HINTS + _ATTRIBUTE_HINTS + (
    "回答日", "回答者", "comment-id", "comment-body", "メールアドレス",
)


def header_has(name: str, hints: tuple[str, ...]) -> bool:
    low = norm(name).lower()
    return any(h.lower() in low for h in hints)


def _is_id_header(name: str) -> bool:
    low = norm(name).lower()
    return low in _ID_HINTS or low.endswith(("id", "番号", "no", "no."))


def is_date_header(name: str) -> bool:
    low = norm(name).lower()
    return header_has(low, _DATE_HINTS) or (low.endswith("日") and len(low) <= 5)


def looks_like_header_word(v: str) -> bool:
    low = v.lower()
    return low in (w.lower() for w in HEADER_WORDS) or (
        len(v) <= 8 and any(w.lower() in low for w in HEADER_WORDS)
    )


# --------------------------------------------------------------------------- column roles


@dataclass
class ColumnRoles:
    """What each column of a user table is for; every column is in exactly one role.

    Attributes
    ----------
    text : str or None
        The free-text (comment) column; None when no column holds sentences.
    id : str or None
        A column of unique short numbers or codes filled on every row; never the text.
    attributes : list of str
        Grouping columns (few distinct short values: 所属, 職種, 年代, 年度 …), in file order.
    ignored : dict of str to str
        Column -> Japanese reason (「日付・時刻の列」「数値だけの列」「空の列」 …).
    notes : list of str
        Japanese sentences explaining the choice, and personal-data warnings.
    """

    text: str | None
    id: str | None
    attributes: list[str] = field(default_factory=list)
    ignored: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


_SAMPLE = 2000

# Column kinds, with the Japanese reason shown for ignored columns and the label used when an
# error message lists the columns of a file (「『score』は数値だけの列です」).
_REASONS = {
    "empty": "空の列",
    "email": "メールアドレスの列（個人情報）",
    "name": "氏名の列（個人情報）",
    "date": "日付・時刻の列",
    "idlike": "ほぼすべての値が異なる短い値（ID のような列）",
    "dup_id": "番号・ID の列（同じ値が複数あるため ID には使いません）",
    "numeric": "数値だけの列",
    "constant": "すべての行が同じ値の列",
    "many": "値の種類が多い短い値の列（分類には使いません）",
}
_LABELS = {
    "empty": "空",
    "email": "メールアドレス",
    "name": "氏名",
    "date": "日付・時刻",
    "id": "番号",
    "idlike": "ID のような値",
    "dup_id": "番号",
    "numeric": "数値だけ",
    "constant": "すべて同じ値",
    "many": "短い値",
    "attribute": "分類",
    "text": "文章",
}
_NOT_TEXT = {"empty", "email", "name", "date", "id", "idlike", "dup_id", "numeric"}


@dataclass
class _Profile:
    name: str
    n_rows: int
    n_values: int
    n_distinct: int
    mean_len: float
    max_len: int
    number: float  # shares of the (sampled) non-empty values
    integer: float
    date: float
    code: float
    email: float

    @property
    def fill(self) -> float:
        return self.n_values / self.n_rows if self.n_rows else 0.0

    @property
    def distinct_ratio(self) -> float:
        return self.n_distinct / self.n_values if self.n_values else 0.0


def _profile(name: str, column: pd.Series) -> _Profile:
    values = [v for v in (norm(str(c)) for c in column.fillna("")) if v]
    step = max(1, len(values) // _SAMPLE)
    sample = values[::step] or [""]

    def share(test: Callable[[str], bool]) -> float:
        return sum(map(test, sample)) / len(sample) if values else 0.0

    return _Profile(
        name=name,
        n_rows=len(column),
        n_values=len(values),
        n_distinct=len(set(values)),
        mean_len=sum(map(len, values)) / len(values) if values else 0.0,
        max_len=max(map(len, values), default=0),
        number=share(is_number),
        integer=share(lambda v: bool(_INTEGER.fullmatch(v))),
        date=share(is_date),
        code=share(_is_code),
        email=share(lambda v: bool(_EMAIL.fullmatch(v))),
    )


def _kind(p: _Profile) -> str:
    """Classify a column from its content (header words only break ties); see :data:`_REASONS`."""
    if p.n_values == 0:
        return "empty"
    if p.email >= 0.5:
        return "email"
    if header_has(p.name, _NAME_HINTS) and p.mean_len <= 12 and not header_has(p.name, TEXT_HINTS):
        return "name"
    if p.date >= 0.8:
        return "date"
    if is_date_header(p.name) and p.number >= 0.9:
        # Excel serial dates (45383 = 2024-04-01) or Unix times, written out as numbers.
        return "date"
    unique = p.n_distinct == p.n_values
    if p.n_values >= 2 and max(p.code, p.integer) >= 0.9 and p.max_len <= 20:
        if unique and p.n_values == p.n_rows:
            return "id"
        if p.distinct_ratio >= 0.95 and p.n_values >= 3:
            return "idlike"
        if _is_id_header(p.name):
            return "dup_id"
    if p.n_distinct == 1 and p.n_values >= 2:
        return "constant"
    few = 2 <= p.n_distinct <= max_categories(p.n_values) and not unique
    if p.number >= 0.9:
        if few and (header_has(p.name, _ATTRIBUTE_HINTS) or (p.integer >= 0.9 and p.n_distinct <= 5)):
            return "attribute"
        return "numeric"
    # Long values count as text even when many rows repeat (「特になし」, a comment pasted twice):
    # what matters is that there are many different sentences.
    if p.mean_len >= 6 and (
        p.distinct_ratio >= 0.7
        or p.n_values <= 3
        or (p.mean_len >= 15 and (p.distinct_ratio >= 0.3 or p.n_distinct >= 30))
    ):
        return "text"
    if few and p.mean_len <= 20 and p.max_len <= 40:
        return "attribute"
    if p.distinct_ratio >= 0.95 and p.n_values >= 3 and p.mean_len < 6:
        return "idlike"
    return "many"


def _text_score(p: _Profile) -> float:
    hint = header_has(p.name, TEXT_HINTS) or is_question(p.name)
    return p.mean_len * p.distinct_ratio * p.fill**0.5 * (2.0 if hint else 1.0)


def max_categories(n_values: int) -> int:
    """Most distinct values a grouping column may have: half the rows, at least 10, at most 100."""
    return max(10, min(100, n_values // 2))


def _is_short_attribute(p: _Profile) -> bool:
    return 2 <= p.n_distinct <= max_categories(p.n_values) and p.n_distinct < p.n_values and p.mean_len <= 20


def guess_roles(table: pd.DataFrame) -> ColumnRoles:
    """Decide from content and headers which column is the text, the id, the attributes.

    A text column is mostly non-numeric with many distinct, long values; a long question header
    (「…自由にお書きください。」) counts in its favour. Id-like columns (unique short numbers or
    codes), dates and times (2024/4/1, 令和6年4月1日, Excel serial numbers under a date header),
    e-mail addresses and names are never the text. Attributes have few distinct short values.

    Parameters
    ----------
    table : pandas.DataFrame
        Shape (n_rows, n_columns), cells as strings (as :func:`read_table` returns them).

    Returns
    -------
    ColumnRoles
        ``text`` is None (with a note) when no column holds sentences.
    """
    columns = [str(c) for c in table.columns]
    profiles = {c: _profile(c, table[c]) for c in columns}
    kinds = {c: _kind(p) for c, p in profiles.items()}
    roles = ColumnRoles(text=None, id=None)

    texts = [c for c in columns if kinds[c] == "text"]
    if texts:
        roles.text = max(texts, key=lambda c: (_text_score(profiles[c]), -columns.index(c)))
        p = profiles[roles.text]
        roles.notes.append(
            f"コメント本文の列は『{roles.text}』としました（平均 {p.mean_len:.0f} 文字、"
            f"{p.n_distinct}種類の値）。"
        )
    ids = [c for c in columns if kinds[c] == "id"]
    if ids:
        roles.id = next((c for c in ids if _is_id_header(c)), ids[0])

    other_texts: list[str] = []
    for c in columns:
        kind = kinds[c]
        if c in (roles.text, roles.id):
            continue
        if kind == "text":
            if _is_short_attribute(profiles[c]):
                kind = "attribute"
            elif profiles[c].mean_len >= 15:
                other_texts.append(c)
                roles.ignored[c] = f"ほかの自由記述の列（本文には『{roles.text}』を使います）"
                continue
            else:
                kind = "many" if profiles[c].distinct_ratio < 0.95 else "idlike"
        if kind == "id":
            kind = "idlike"
        if kind == "attribute":
            roles.attributes.append(c)
        else:
            roles.ignored[c] = _REASONS[kind]

    if roles.text is None:
        roles.notes.append(
            f"コメント本文にあたる列が見つかりません。{_describe(columns, kinds, roles)}"
            "自由記述の列を含むファイルを指定してください。"
        )
    if other_texts:
        roles.notes.append(
            f"ほかにも文章の列があります（{'、'.join(f'『{c}』' for c in other_texts)}）。"
            "別の設問を分析するときは本文の列を選び直してください。"
        )
    if columns and (norm(columns[0]) == "タイムスタンプ" or {"開始時刻", "完了時刻"} <= set(columns)):
        roles.notes.append("Google フォームまたは Microsoft Forms の書き出しと判断しました。回答日時の列は使いません。")
    for c in columns:
        if kinds[c] in ("email", "name"):
            what = "メールアドレス" if kinds[c] == "email" else "氏名"
            roles.notes.append(
                f"『{c}』の列は{what}（個人情報）のため分析には使いません。ファイルを共有する前に、"
                "この列を削除することをおすすめします。"
            )
    if roles.attributes:
        roles.notes.append(f"分類に使える列: {'、'.join(f'『{c}』' for c in roles.attributes)}。")
    return roles


def _describe(columns: list[str], kinds: dict[str, str], roles: ColumnRoles | None = None) -> str:
    """「『comment-id』は番号、『score』は数値だけの列です。」 for every column (at most 8)."""
    def label(c: str) -> str:
        if roles is not None and c == roles.id:
            return _LABELS["id"]
        if roles is not None and c in roles.attributes:
            return _LABELS["attribute"]
        return _LABELS[kinds[c]]

    parts = [f"『{c}』は{label(c)}" for c in columns[:8]]
    more = f"（ほか{len(columns) - 8}列）" if len(columns) > 8 else ""
    return "、".join(parts) + "の列です" + more + "。"


def check_text_column(table: pd.DataFrame, column: str) -> None:
    """Refuse a text column that holds numbers, ids, dates, personal data or (almost) nothing.

    "Almost nothing": no value, or fewer than 5 % of rows filled in a table of 20 rows or more
    (an optional question answered by few respondents is still accepted).

    Raises
    ------
    CorpusError
        With a Japanese message naming the column, what it holds, and either the column to use
        instead or what every column of the file holds.
    """
    columns = [str(c) for c in table.columns]
    if column not in columns:
        listed = "、".join(f"『{c}』" for c in columns)
        raise CorpusError(f"本文（コメント）の列『{column}』が見つかりません。ファイルにある列: {listed}")
    p = _profile(column, table[column])
    kind = _kind(p)
    if kind not in _NOT_TEXT and not (p.n_rows >= 20 and p.fill < 0.05):
        return
    what = _LABELS[kind] + "の列" if kind in _NOT_TEXT else "ほとんど空の列"
    roles = guess_roles(table)
    message = f"『{column}』は{what}のため、コメント本文には使えません。"
    if roles.text is not None and roles.text != column:
        message += f"本文には『{roles.text}』を選んでください。"
    else:
        kinds = {c: _kind(_profile(c, table[c])) for c in columns}
        message += (
            f"コメント本文にあたる列が見つかりません。{_describe(columns, kinds, roles)}"
            "自由記述の列を含むファイルを指定してください。"
        )
    raise CorpusError(message)
