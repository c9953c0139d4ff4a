"""Masking of personal data: invented but realistic sentences from welfare staff."""

from __future__ import annotations

import random

import pandas as pd
import pytest

from analysis.ingest.masking import (
    ALL_KINDS,
    DEFAULT_ALLOW,
    MAX_CHUNK_CHARS,
    Masked,
    Masker,
    MaskResult,
    Morph,
    load_allow_list,
    mask_token,
    review_table,
)


@pytest.fixture(scope="module")
def masker() -> Masker:
    return Masker()


def check(result: MaskResult, text: str) -> None:
    """Invariants of every result: spans point at the original, nothing masked is left."""
    last = 0
    for item in result.found:
        assert isinstance(item, Masked)
        assert item.kind in ALL_KINDS
        assert item.token == mask_token(item.kind)
        assert text[item.start : item.end] == item.original
        assert item.start >= last  # ordered, no overlap
        last = item.end
        assert item.original not in result.text


def masked(masker: Masker, text: str) -> str:
    result = masker.mask(text)
    check(result, text)
    return result.text


# --------------------------------------------------------------------------- the brief's examples


def test_name_phone_and_honorifics(masker):
    text = "山田太郎さん（090-1234-5678）の件で、社協の佐藤様に連絡した"
    result = masker.mask(text)
    check(result, text)
    assert result.text == "〔人名〕さん（〔電話番号〕）の件で、社協の〔人名〕様に連絡した"
    assert [(m.kind, m.original) for m in result.found] == [
        ("人名", "山田太郎"),  # 姓 + 名 is one item
        ("電話番号", "090-1234-5678"),
        ("人名", "佐藤"),
    ]
    assert [(m.start, m.end) for m in result.found] == [(0, 4), (7, 20), (28, 30)]


def test_postal_code_and_address_keep_the_municipality(masker):
    text = "〒100-0013 東京都千代田区霞が関1-2-2 に住む方"
    result = masker.mask(text)
    check(result, text)
    assert result.text == "〔郵便番号〕 東京都千代田区〔住所〕 に住む方"
    assert [(m.kind, m.original) for m in result.found] == [("郵便番号", "〒100-0013"), ("住所", "霞が関1-2-2")]


def test_email(masker):
    assert masked(masker, "メールは tanaka.h@example.jp まで") == "メールは 〔メールアドレス〕 まで"
    assert masked(masker, "連絡先：ｓａｔｏ＿ｍ＠ｃｉｔｙ．ｅｘａｍｐｌｅ．ｌｇ．ｊｐ") == "連絡先：〔メールアドレス〕"
    assert masked(masker, "info(at)example.or.jp へ送付") == "〔メールアドレス〕 へ送付"


# --------------------------------------------------------------------------- phone numbers


@pytest.mark.parametrize(
    "number",
    [
        "03-1234-5678",
        "090-1234-5678",
        "0120-123-456",
        "(03)1234-5678",
        "03(1234)5678",
        "0312345678",
        "09012345678",
        "０９０－１２３４－５６７８",
        "090ー1234ー5678",
        "03−1234−5678",
        "+81-90-1234-5678",
        "+81 3 1234 5678",
        "045 123 4567",
    ],
)
def test_phone_formats(masker, number):
    text = f"家族の連絡先は{number}です。"
    result = masker.mask(text)
    check(result, text)
    assert result.text == "家族の連絡先は〔電話番号〕です。"
    assert result.found[0].original == number


@pytest.mark.parametrize(
    "text, expected",
    [
        ("電話 1234-5678 に折り返し", "電話 〔電話番号〕 に折り返し"),
        ("TEL:03-1234-5678（代表）", "TEL:〔電話番号〕（代表）"),
        ("℡０３－１２３４－５６７８", "℡〔電話番号〕"),
        ("携帯は080-9876-5432、FAXは03-1234-5679", "携帯は〔電話番号〕、FAXは〔電話番号〕"),
    ],
)
def test_phone_prefixes(masker, text, expected):
    assert masked(masker, text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "令和4年度の相談件数は年間120件、8050問題や9060問題が目立つ。",
        "0-3歳の子育て世帯、2-3人の職員、第3-4週の会議。",
        "2022-2023年度の計画、2022-12-01の会議録。",
        "1日8時間、週5日勤務、時給1,000円、月20時間の残業。",
        "受付は平日9時～17時。電話番号は広報に掲載している。",
        "0120で始まる番号は無料。内線は3桁。",
    ],
)
def test_numbers_that_are_not_personal(masker, text):
    assert masked(masker, text) == text


# --------------------------------------------------------------------------- addresses and postal codes


@pytest.mark.parametrize(
    "text, expected",
    [
        ("〇〇市△△町3丁目5番地の2の世帯", "〇〇市〔住所〕の世帯"),
        ("大阪市北区梅田3丁目5番2号 梅田ハイツ201号室に転居", "大阪市北区〔住所〕に転居"),
        ("神奈川県〇〇郡△△町大字□□123番地", "神奈川県〇〇郡△△町〔住所〕"),
        ("つくば市竹園1-2-3に住む", "つくば市〔住所〕に住む"),
        ("東京都 千代田区 霞が関 1-2-2", "東京都 千代田区 〔住所〕"),
        ("霞が関1-2-2の庁舎", "〔住所〕の庁舎"),
        ("自宅は本町三丁目", "自宅は本町〔住所〕"),
    ],
)
def test_addresses(masker, text, expected):
    assert masked(masker, text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "〇〇市では包括と社協の連携が課題。市役所の担当課も同じ。",
        "大阪市北区の包括と、東京都千代田区の社協に問い合わせた。",
        "住所が不明な方への郵便物の扱い、住所地特例の理解が進まない。",
        "〒マークのついた封筒で届いた書類。",
        "市川市や松戸市など近隣市との広域連携。千葉県の補助金も活用。",
    ],
)
def test_a_municipality_alone_is_not_an_address(masker, text):
    assert masked(masker, text) == text


@pytest.mark.parametrize(
    "text, expected",
    [
        ("〒１００－００１３", "〔郵便番号〕"),
        ("郵便番号 1234567 を記入", "郵便番号 〔郵便番号〕 を記入"),
        ("123-4567 千葉県船橋市本町1-2-3", "〔郵便番号〕 千葉県船橋市〔住所〕"),
    ],
)
def test_postal_codes(masker, text, expected):
    assert masked(masker, text) == expected


def test_my_number(masker):
    assert masked(masker, "マイナンバー 1234 5678 9012 を聞かれた") == "マイナンバー 〔個人番号〕 を聞かれた"


# --------------------------------------------------------------------------- names


@pytest.mark.parametrize(
    "text, expected",
    [
        ("田中課長と鈴木係長、高橋主任相談員が対応", "〔人名〕課長と〔人名〕係長、〔人名〕主任相談員が対応"),
        ("包括の中村さんと民生委員の小林さん", "包括の〔人名〕さんと民生委員の〔人名〕さん"),
        ("山田 太郎 様と佐藤　花子さん", "〔人名〕 様と〔人名〕さん"),
        ("市川課長と中島主任、桜井先生に相談", "〔人名〕課長と〔人名〕主任、〔人名〕先生に相談"),
        ("ｻﾄｳさんとヤマダ様", "〔人名〕さんと〔人名〕様"),
        ("グエンさんとキムさん、Smithさん", "〔人名〕さんと〔人名〕さん、〔人名〕さん"),
        ("前任の佐藤から引き継いだ。", "前任の〔人名〕から引き継いだ。"),
        ("花子ちゃんの登校", "〔人名〕ちゃんの登校"),
    ],
)
def test_names(masker, text, expected):
    assert masked(masker, text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "安心と希望の地域福祉を目指して、誠実に対応したい。",
        "社協、市役所、包括、民生委員の四者で地域ケア会議を開いた。",
        "包括さん、社協さん、ケアマネさん、ヘルパーさん、行政さん、お母さん、皆さん、利用者さん",
        "民生委員さんや自治会長さんから、気になる世帯の情報が寄せられる。",
        "Aさん、〇〇さん、○○様、CSWさん、Bさんの事例",
        # Place names, also ones the dictionary lists as surnames: never a person without a title.
        "石川の事例、池田の住民、長野の山間部、市川に住む高齢者、山田の地域では",
        "大和市と座間市、中野区の包括、中野の相談会、八王子の社協",
        "北海道の小さな町では、役場の担当者が一人で何役もこなしている。",
        "佐藤クリニックに通院。吉田地区の民生委員。",
        "市川市長が視察に来た。",
        "ひまわりの会やさくら園が見守りに協力してくれている。",
        "主任ケアマネと保健師、社会福祉士の三職種が揃っていない。",
    ],
)
def test_no_false_positives_in_the_domain(masker, text):
    assert masked(masker, text) == text


# --------------------------------------------------------------------------- allow list


def test_default_allow_list_keeps_public_bodies(masker):
    assert {"社協", "市役所", "包括", "民生委員"} <= DEFAULT_ALLOW
    text = "社協の佐藤様と市役所の田中課長"
    result = masker.mask(text)
    assert result.text == "社協の〔人名〕様と市役所の〔人名〕課長"
    assert all(m.original not in ("社協", "市役所") for m in result.found)


def test_user_allow_list_keeps_a_place_name():
    # Offices call a neighbouring city by its name plus さん; a user can keep such names.
    text = "隣の大和さんの取り組みを参考にした"
    assert Masker().mask(text).text == "隣の〔人名〕さんの取り組みを参考にした"
    kept = Masker(allow=["大和"])
    assert kept.mask(text).text == text
    assert kept.mask("大和の佐藤さん").text == "大和の〔人名〕さん"


def test_allow_terms_are_nfkc_compared():
    assert Masker(allow=["ｻﾄｳ"]).mask("サトウさん").text == "サトウさん"


def test_load_allow_list(tmp_path):
    path = tmp_path / "allow.txt"
    path.write_text("# comment\n中野  # trailing comment\n\nＡＢＣ\n", encoding="utf-8")
    assert load_allow_list(path) == frozenset({"中野", "ABC"})
    assert Masker(default_allow=load_allow_list(path)).mask("社協の田中さん").text == "社協の〔人名〕さん"


# --------------------------------------------------------------------------- the seed


def test_seed_comments_come_back_unchanged(masker, seed):
    results = masker.mask_many(seed["text"])
    table = review_table(seed["text"], results, ids=seed["comment_id"])
    assert table.empty, table.to_string()
    assert [r.text for r in results] == list(seed["text"])


# --------------------------------------------------------------------------- invariants

SENTENCES = [
    "山田太郎さん（090-1234-5678）の件で、社協の佐藤様に連絡した",
    "〒100-0013 東京都千代田区霞が関1-2-2 に住む方",
    "メールは tanaka.h@example.jp まで。担当は鈴木主任。",
    "〇〇市△△町3丁目5番地の2の田中さん宅、電話 1234-5678",
    "ｻﾄｳﾀﾛｳさん（０９０－１２３４－５６７８）は㈱〇〇勤務",
    "安心と希望の地域福祉を目指す",
    "",
]


@pytest.mark.parametrize("text", SENTENCES)
def test_idempotent(masker, text):
    once = masker.mask(text)
    twice = masker.mask(once.text)
    assert twice.text == once.text
    assert twice.found == []


def test_spans_refer_to_the_original_text(masker):
    text = "ｻﾄｳﾀﾛｳさん（０９０－１２３４－５６７８）は㈱〇〇勤務"
    result = masker.mask(text)
    check(result, text)
    assert [(m.original, m.start, m.end) for m in result.found] == [
        ("ｻﾄｳﾀﾛｳ", 0, 6),
        ("０９０－１２３４－５６７８", 9, 22),
    ]
    assert result.text == "〔人名〕さん（〔電話番号〕）は㈱〇〇勤務"


def test_deterministic_across_instances(masker):
    other = Masker()
    for text in SENTENCES:
        assert other.mask(text) == masker.mask(text)


def test_existing_tokens_are_left_alone(masker):
    text = "〔人名〕さんから〔電話番号〕に連絡。〔住所〕在住。"
    assert masker.mask(text) == MaskResult(text, [])


@pytest.mark.parametrize("value", ["", None, float("nan"), pd.NA])
def test_missing_values(masker, value):
    assert masker.mask(value) == MaskResult("", [])


def test_odd_input_never_crashes(masker):
    assert masker.mask(12345).text == "12345"
    text = "a\ud800b\x00山田太郎さん\u200b\ufeff〒\t"
    result = masker.mask(text)
    check(result, text)
    assert result.text == "a\ud800b\x00〔人名〕さん\u200b\ufeff〒\t"


def test_very_long_text_is_analysed_in_chunks(masker):
    # Above SudachiPy's 49,149-byte limit: names at the start, across chunk boundaries and at the end.
    sentence = "田中課長に電話した。"
    text = "佐藤様。" + sentence * 3000 + "あ" * (MAX_CHUNK_CHARS + 500) + "高橋さん"
    assert len(text.encode("utf-8")) > 50_000
    result = masker.mask(text)
    check(result, text)
    names = [m.original for m in result.found]
    assert names[0] == "佐藤" and names[-1] == "高橋"
    assert names.count("田中") == 3000


def test_random_text_keeps_the_invariants(masker):
    rnd = random.Random(0)
    alphabet = list("山田太郎佐藤花子さん様課長市区町村都丁目番地号の〒@＠.-ー（）() 0123456789０９abcｶﾞ㈱①〔〕人名\n\t。、")
    pieces = ["山田太郎さん", "090-1234-5678", "〒100-0013", "東京都千代田区霞が関1-2-2", "a@b.jp", "〔人名〕", "社協"]
    for _ in range(300):
        parts = [
            rnd.choice(pieces) if rnd.random() < 0.3 else "".join(rnd.choices(alphabet, k=rnd.randint(1, 6)))
            for _ in range(rnd.randint(0, 10))
        ]
        text = "".join(parts)
        result = masker.mask(text)
        for item in result.found:
            assert text[item.start : item.end] == item.original
        assert masker.mask(result.text).text == result.text


# --------------------------------------------------------------------------- options


def test_kinds_select_the_rules():
    text = "山田太郎さん（090-1234-5678）"
    assert Masker(kinds=["電話番号"]).mask(text).text == "山田太郎さん（〔電話番号〕）"
    assert Masker(kinds=["人名"]).mask(text).text == "〔人名〕さん（090-1234-5678）"
    with pytest.raises(ValueError, match="種別"):
        Masker(kinds=["氏名"])


class NoMorphemes:
    """A stand-in analyser that knows no words: only the pattern rules can fire."""

    def morphemes(self, text: str) -> list[Morph]:
        return []

    def entries(self, surface: str) -> frozenset[tuple[str, ...]]:
        return frozenset()


def test_injected_tokenizer():
    result = Masker(tokenizer=NoMorphemes()).mask("山田太郎さん（090-1234-5678）")
    assert result.text == "山田太郎さん（〔電話番号〕）"


def test_mask_many_matches_mask_on_threads(masker, seed):
    extra = SENTENCES[:5]
    texts = [t + (extra[i % 5] if i % 4 == 0 else "") for i, t in enumerate(list(seed["text"]) * 20)]
    assert len(texts) >= 2000  # the threaded path
    threaded = masker.mask_many(texts)
    assert threaded == [masker.mask(t) for t in texts]
    assert sum(len(r.found) for r in threaded) > 0


# --------------------------------------------------------------------------- review table


def test_review_table(masker):
    texts = ["山田太郎さん（090-1234-5678）の件で、社協の佐藤様に連絡した", "特になし", "改行の\n後に田中課長"]
    results = masker.mask_many(texts)
    table = review_table(texts, results, ids=["c1", "c2", "c3"])
    assert list(table.columns) == ["comment_id", "kind", "original", "token", "start", "end", "context"]
    assert table["comment_id"].tolist() == ["c1", "c1", "c1", "c3"]
    assert table["kind"].tolist() == ["人名", "電話番号", "人名", "人名"]
    assert table["original"].tolist() == ["山田太郎", "090-1234-5678", "佐藤", "田中"]
    assert table.iloc[0]["context"] == "【山田太郎】さん（090-1234-567…"  # 15 characters either side
    assert table.iloc[2]["context"] == "…34-5678）の件で、社協の【佐藤】様に連絡した"
    assert table.iloc[3]["context"] == "改行の 後に【田中】課長"
    assert (table["end"] - table["start"]).tolist() == [4, 13, 2, 2]


def test_review_table_defaults_and_errors(masker):
    texts = ["安心", "佐藤様"]
    table = review_table(texts, masker.mask_many(texts))
    assert table["comment_id"].tolist() == [1]
    empty = review_table([], [])
    assert empty.empty and list(empty.columns)[0] == "comment_id"
    with pytest.raises(ValueError, match="件数"):
        review_table(texts, masker.mask_many(texts[:1]))
