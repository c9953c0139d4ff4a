"""Hostile and odd files shaped like what reaches an office dashboard, built in the test (never stored)."""

from __future__ import annotations

import io
import zipfile

COMMENTS = [
    "担当者が替わるたびに最初から説明し直さなければならない",
    "会議の日程調整だけで一週間かかってしまう",
    "個人情報の共有についてどこまで話してよいか迷う",
    "役所の窓口がどこなのか分からず、たらい回しにされた",
    "地域の民生委員さんとの情報共有の仕組みがない",
    "専門職同士の言葉が違い、話が噛み合わないことがある",
]


def seed_texts() -> list[str]:
    """The 108 comments of the seed document (real Japanese text)."""
    from analysis.ingest.seed import load_seed

    return load_seed()["text"].tolist()


def workbook_bytes(rows: list[list[object]]) -> bytes:
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    for r in rows:
        ws.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def rewrite_member(xlsx: bytes, member: str, edit) -> bytes:
    """The workbook with one member's XML replaced by ``edit(xml_bytes)`` (a bytes or an iterator of chunks)."""
    zin = zipfile.ZipFile(io.BytesIO(xlsx))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename != member:
                zout.writestr(item, data)
                continue
            new = edit(data)
            info = zipfile.ZipInfo(item.filename, date_time=item.date_time)
            info.compress_type = zipfile.ZIP_DEFLATED
            with zout.open(info, "w", force_zip64=True) as fh:
                for chunk in ([new] if isinstance(new, bytes) else new):
                    fh.write(chunk)
    return out.getvalue()


def zip_bomb_xlsx(n_chars: int = 100_000_000) -> bytes:
    """A valid .xlsx of about 300 KB whose one comment cell inflates to ``n_chars`` characters."""
    rows = [["番号", "所属", "自由記述"]] + [[i, "行政" if i % 2 else "専門機関", t] for i, t in enumerate(seed_texts()[:60], 1)]
    rows[1][2] = "BOMB"
    base = workbook_bytes(rows)

    def edit(xml: bytes):
        head, tail = xml.split(b"<t>BOMB</t>")
        yield head + b"<t>"
        block = "連携".encode() * (1 << 19)  # 3 MB of text per chunk
        left = n_chars
        while left > 0:
            take = min(left, 2 * (1 << 19))
            yield block[: take * 3]
            left -= take
        yield b"</t>" + tail

    return rewrite_member(base, "xl/worksheets/sheet1.xml", edit)
