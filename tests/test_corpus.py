"""The seed parser and the user-file loaders, with real CP932 / UTF-8-BOM / Excel bytes."""

from __future__ import annotations

import io

import pandas as pd
import pytest

from analysis.errors import CorpusError
from analysis.ingest.comments import MAX_UPLOAD_BYTES, comments_from_table
from analysis.ingest.importing import decode_bytes, guess_columns, load_file, read_table
from analysis.ingest.seed import parse_seed
from analysis.schema import CATEGORIES, COMMENT_COLUMNS, attributes_of

ROWS = [
    ("1", "庁内の縦割りで、担当外の相談はたらい回しになる①", "行政×行政", "行政職員"),
    ("2", "民生委員に個人情報をどこまで伝えてよいか迷う", "行政・専門機関×地域", "専門機関職員"),
    ("3", "   ", "行政×専門機関", "行政職員"),
    ("4", "ゴミ屋敷の相談＝社協、という思い込みがある", "行政×行政", "行政職員"),
    ("5", "民生委員に個人情報をどこまで伝えてよいか迷う", "行政・専門機関×地域", "行政職員"),
]


def _table() -> pd.DataFrame:
    return pd.DataFrame(ROWS, columns=["番号", "自由記述", "分類", "属性"])


# --------------------------------------------------------------------------- seed


def test_seed_has_108_comments_in_document_order(seed_comments):
    assert list(seed_comments.columns) == list(COMMENT_COLUMNS)
    assert len(seed_comments) == 108
    counts = seed_comments.groupby("連携の分類", sort=False).size()
    assert list(counts.index) == list(CATEGORIES)
    assert counts.tolist() == [25, 29, 28, 26]
    assert seed_comments["comment_id"].tolist()[:3] == ["c001", "c002", "c003"]
    assert seed_comments["comment_id"].is_unique
    assert seed_comments["position"].tolist() == list(range(108))


def test_seed_roles(seed_comments):
    roles = seed_comments.groupby("回答者").size().to_dict()
    # Each section opens with comments before any respondent heading: 4 + 6 + 4 + 3.
    assert roles["未記載"] == 17
    assert roles["行政職員"] + roles["専門機関職員"] == 91
    first = seed_comments.iloc[0]
    assert first["回答者"] == "未記載"
    assert first["text"].startswith("他の部署が抱えている課題が我が事にならない")


def test_seed_skips_headings_toc_preface_and_page_markers(seed_comments):
    texts = seed_comments["text"]
    assert not texts.str.contains("目次").any()
    assert not texts.str.startswith("※本資料").any()
    assert not texts.isin(["①", "②"]).any()
    assert not texts.str.contains("の回答").any()
    assert not texts.str.contains("もやもや$").any()
    assert not texts.str.contains(r"\*\*").any()


def test_multiline_comment_is_one_comment(seed_comments):
    row = seed_comments[seed_comments["text"].str.contains("ここまでしかできない")]
    assert len(row) == 1
    assert row.iloc[0]["text"] == "「ここまでできる」より「ここまでしかできない」が優先される"
    assert row.iloc[0]["連携の分類"] == "行政×行政"
    assert row.iloc[0]["回答者"] == "行政職員"
    # A comment whose line break falls mid-sentence, in the fourth section.
    row = seed_comments[seed_comments["text"].str.startswith("民生委員等の地域住民の方に対象者の個人情報")]
    assert row.iloc[0]["text"] == "民生委員等の地域住民の方に対象者の個人情報伝えることの不安感がある"
    assert row.iloc[0]["連携の分類"] == "行政・専門機関×地域"


def test_emphasis_is_kept_as_list_and_removed_from_text(seed_comments):
    row = seed_comments[seed_comments["text"].str.contains("ゴミ屋敷の相談＝社協")].iloc[0]
    assert row["emphasis"] == [
        "本当の解決までには至っていないケース",
        "他の部署や機関に相談を投げかけるだけで終わっている",
        "ゴミ屋敷の相談＝社協で、社協がゴミを片付けると勘違いしている職員",
    ]
    assert "**" not in row["text"]
    assert sum(len(e) > 0 for e in seed_comments["emphasis"]) > 40


def test_parse_seed_small_document():
    md = "\n".join(
        [
            "## 目次",
            "1. 行政×行政（庁内連携）のもやもや",
            "",
            "# 1. 行政×行政 のもやもや",
            "",
            "最初の**強調**コメント",
            "",
            "## 行政職員の回答",
            "",
            "①",
            "",
            "二行に  ",
            "わたるコメント",
            "",
            "**4. 行政・専門機関  ",
            "×地域の多様な主体との  ",
            "連携もやもや**",
            "",
            "地域のコメント",
        ]
    )
    df = parse_seed(md)
    assert df["text"].tolist() == ["最初の強調コメント", "二行にわたるコメント", "地域のコメント"]
    assert df["連携の分類"].tolist() == ["行政×行政", "行政×行政", "行政・専門機関×地域"]
    assert df["回答者"].tolist() == ["未記載", "行政職員", "未記載"]
    assert df["emphasis"].tolist() == [["強調"], [], []]


# --------------------------------------------------------------------------- decoding


def test_decode_cp932_with_circled_digit():
    raw = "意見\n担当外の相談①はたらい回し\n".encode("cp932")
    text, enc = decode_bytes(raw)
    assert enc == "cp932"
    assert "①" in text


def test_decode_utf8_bom():
    raw = "\ufeff意見\nたらい回し\n".encode("utf-8")
    text, enc = decode_bytes(raw)
    assert enc == "utf-8-sig"
    assert text.startswith("意見")


def test_undecodable_bytes_give_japanese_message():
    with pytest.raises(CorpusError, match="文字コード"):
        decode_bytes(b"\x81\xff\xfe\x80abc")


# --------------------------------------------------------------------------- loaders


@pytest.mark.parametrize("encoding", ["cp932", "utf-8-sig", "utf-8"])
def test_load_csv_bytes(tmp_path, encoding):
    path = tmp_path / "comments.csv"
    path.write_bytes(_table().to_csv(index=False).encode(encoding))
    res = load_file(path)
    c = res.comments
    assert res.report.encoding == encoding
    assert c["text"].tolist() == [ROWS[0][1], ROWS[1][1], ROWS[3][1], ROWS[4][1]]
    assert c["comment_id"].tolist() == ["1", "2", "4", "5"]  # the 番号 column was recognised as ids
    assert c["分類"].tolist()[0] == "行政×行政"  # attributes keep the user's own headers
    assert c["属性"].tolist()[1] == "専門機関職員"
    assert res.report.blank_rows == [4]  # line of the blank comment (header = line 1)
    assert res.report.n_rows == 5 == res.report.n_comments + len(res.report.skipped)
    assert res.report.duplicate_groups == [["2", "5"]]
    summary = res.report.summary_ja()
    assert "本文が空の1行" in summary and "同じ本文" in summary
    assert res.report.mapping["attributes"] == {"分類": "分類", "属性": "属性"}


def test_load_tsv(tmp_path):
    path = tmp_path / "comments.tsv"
    path.write_bytes(_table().to_csv(index=False, sep="\t").encode("cp932"))
    res = load_file(path, text_column="自由記述")
    assert len(res.comments) == 4


def test_load_excel_bytes(tmp_path):
    buf = io.BytesIO()
    _table().to_excel(buf, index=False)
    path = tmp_path / "comments.xlsx"
    path.write_bytes(buf.getvalue())
    res = load_file(path, text_column="自由記述", attributes=["分類", "属性"])
    assert len(res.comments) == 4
    assert res.comments["text"].iloc[2] == "ゴミ屋敷の相談＝社協、という思い込みがある"
    assert res.comments["comment_id"].tolist() == ["c001", "c002", "c003", "c004"]
    assert list(res.comments.columns[-2:]) == ["分類", "属性"]


def test_nfkc_for_analysis_original_for_display():
    table = pd.DataFrame({"回答": ["ＡＢＣ　１２３　ｶﾀｶﾅ\n改行"]})
    c = comments_from_table(table, "回答").comments
    assert c["text"].iloc[0] == "ＡＢＣ　１２３　ｶﾀｶﾅ\n改行"
    assert c["text_norm"].iloc[0] == "ABC 123 カタカナ 改行"


def test_any_attributes_and_unknown_values():
    table = pd.DataFrame({"意見": ["学校との連携が難しい", "医療機関との調整"], "部門": ["教育", ""], "年代": ["30代", "40代"],
                          "text": ["衝突する列名", "x"]})
    c = comments_from_table(table, "意見", attributes=["部門", "年代", "text"]).comments
    assert attributes_of(c) == ["部門", "年代", "text（属性）"]  # a reserved name is renamed, not lost
    assert c["部門"].tolist() == ["教育", "未記載"] and c["年代"].tolist() == ["30代", "40代"]
    assert c["text"].tolist() == ["学校との連携が難しい", "医療機関との調整"]


def test_guess_columns_from_content_and_headers():
    g = guess_columns(_table())
    assert (g.text, g.id) == ("自由記述", "番号") and set(g.attributes) == {"分類", "属性"}
    g = guess_columns(pd.DataFrame({"A": ["短い", "x", "y"], "B": ["長い長いコメントの本文です", "これも長いコメントです", "三つ目の意見です"]}))
    assert g.text == "B"


def test_numbers_only_file_is_refused_naming_the_columns(tmp_path):
    path = tmp_path / "ids.csv"
    path.write_text("comment-id,score\n" + "".join(f"{i},{i % 5}\n" for i in range(1, 40)), encoding="utf-8")
    with pytest.raises(CorpusError, match="comment-id"):
        load_file(path)


def test_kouchou_ai_shape_uses_the_body_not_the_id(tmp_path):
    path = tmp_path / "kouchou.csv"
    rows = [f"{i},担当外の相談がたらい回しになる件について、{i}番目の意見です" for i in range(1, 31)]
    path.write_text("comment-id,comment-body\n" + "\n".join(rows) + "\n", encoding="utf-8")
    res = load_file(path)
    assert res.comments["text"].str.contains("たらい回し").all()
    assert res.comments["comment_id"].tolist()[:3] == ["1", "2", "3"]


# --------------------------------------------------------------------------- errors


def test_error_unsupported_format():
    with pytest.raises(CorpusError):
        read_table(b"%PDF-1.7 binary \x00\x01\x02", "comments.pdf")
    with pytest.raises(CorpusError, match=r"\.xls"):
        read_table(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "comments.xls")


def test_error_too_large():
    with pytest.raises(CorpusError, match="大きすぎます"):
        read_table(b"a" * (MAX_UPLOAD_BYTES + 1), "big.csv")


def test_error_empty_file():
    with pytest.raises(CorpusError, match="空"):
        read_table(b"   \n", "empty.csv")


def test_error_broken_excel():
    with pytest.raises(CorpusError, match="Excel"):
        read_table(b"PK\x03\x04 not really a workbook", "broken.xlsx")


def test_error_missing_column_lists_available_columns():
    with pytest.raises(CorpusError, match="「本文」が見つかりません.*「自由記述」"):
        comments_from_table(_table(), "本文")


def test_error_no_usable_rows():
    table = pd.DataFrame({"意見": ["", "  ", "\u3000"]})
    with pytest.raises(CorpusError, match="本文のある行がありません"):
        comments_from_table(table, "意見")


def test_error_duplicate_ids():
    table = pd.DataFrame({"ID": ["a", "a"], "意見": ["一つ目", "二つ目"]})
    with pytest.raises(CorpusError, match="重複"):
        comments_from_table(table, "意見", id_column="ID")


def test_error_missing_file(tmp_path):
    with pytest.raises(CorpusError, match="見つかりません"):
        load_file(tmp_path / "nothing.csv")


def test_error_unclosed_quote_names_the_line():
    raw = ("番号,意見,分類\n1,縦割りで相談が止まる,行政×行政\n2,\"閉じない引用符のまま続く意見,行政×行政\n"
           "3,民生委員との情報共有が難しい,地域\n4,会議が形だけになっている,行政×行政\n").encode("utf-8")
    with pytest.raises(CorpusError, match="3行目"):
        read_table(raw, "bad.csv")
