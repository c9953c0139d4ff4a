"""The report as a page: one self-contained HTML file (:func:`report_html`), and that page printed to PDF.

* The HTML makes no network request: plotly.js is inlined once from the installed plotly package,
  fonts are named (system fonts), a Content-Security-Policy forbids any fetch, and every string from
  the data is escaped (a comment is shown as text, never HTML). Print CSS lays it out on A4 with a
  page break before each theme.
* The PDF is that HTML printed by Debian's chromium in headless mode (:func:`html_to_pdf`).

Both lay out one :class:`~analysis.report.data.ReportData`.
"""

from __future__ import annotations

import html
import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from ..schema import (
    ALPHA,
    FONT_FAMILY,
    MIN_EXPECTED,
    NOISE,
    NOISE_LABEL,
    SOMEWHAT_STABLE_AT,
    STABLE_AT,
    attribute_color_maps,
)
from . import charts
from .data import TITLE, ReportData, ReportError, ThemeInfo, run_created_ja

#: The project's font list (analysis.schema.FONT_FAMILY) in CSS form: system fonts by name only.
FONT_CSS = ", ".join(f'"{n.strip()}"' if " " in n.strip() else n.strip() for n in FONT_FAMILY.split(","))
MAX_HOVER_LINES = 6  # hover text of the map; the report prints, so a short excerpt is enough
#: Above this many themes the map has no legend (a printed legend cannot scroll): the numbers
#: on the map and the theme list name them.
MAP_LEGEND_MAX = 20
#: Theme numbers drawn on the map: the largest themes only, so labels do not bury the points.
MAP_LABELS_MAX = 40


# --------------------------------------------------------------------------- HTML


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


_CSS = """
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{font-family:@FONT@;color:#222;line-height:1.7;font-size:10.5pt;max-width:180mm;margin:0 auto;padding:16px 12px 40px;
 line-break:strict;overflow-wrap:anywhere;background:#fff}
h1{font-size:20pt;margin:0 0 2px;line-height:1.3}
h2{font-size:14pt;border-bottom:2px solid #4c78a8;padding-bottom:2px;margin:22px 0 8px;break-after:avoid}
h3{font-size:11.5pt;margin:14px 0 4px;break-after:avoid}
p{margin:4px 0 8px}
.sub{font-size:13pt;font-weight:bold;color:#333;margin:2px 0 4px}
.muted{color:#666;font-size:9pt}
.filters{border:1px solid #c9d6e8;background:#f3f7fc;border-radius:6px;padding:6px 10px;margin:10px 0}
.filters.on{border-color:#e0a040;background:#fff7e8}
.stats{display:flex;flex-wrap:wrap;gap:8px;margin:8px 0}
.stat{flex:1 1 110px;border:1px solid #ddd;border-radius:6px;padding:6px 10px}
.stat .n{font-size:16pt;font-weight:bold;line-height:1.2}
.stat .k{font-size:8.5pt;color:#555}
table{border-collapse:collapse;width:100%;margin:6px 0 10px;font-size:9pt}
th,td{border:1px solid #ccc;padding:3px 5px;vertical-align:top;text-align:left}
th{background:#eef2f7;font-weight:bold}
thead{display:table-header-group}
tr{break-inside:avoid}
td.n,th.n{text-align:right;white-space:nowrap}
td.c{text-align:center;white-space:nowrap}
tr.noise td{color:#666;background:#fafafa}
tr.total td{font-weight:bold;background:#f4f4f4}
.num{display:inline-block;min-width:1.7em;padding:0 4px;border-radius:4px;color:#fff;font-weight:bold;text-align:center;
 margin-right:4px;font-size:9pt}
.kw{display:inline-block;border:1px solid #bbb;border-radius:10px;padding:0 7px;margin:0 3px 3px 0;font-size:8.5pt;background:#f7f7f7}
.summary{border-left:4px solid #4c78a8;background:#f5f8fc;padding:4px 10px;margin:6px 0}
.quote{border:1px solid #ddd;border-left:4px solid #999;border-radius:4px;padding:5px 10px;margin:6px 0;break-inside:avoid}
.quote .t{white-space:pre-wrap}
.quote .m{font-size:8.5pt;color:#666}
.meta{font-size:9pt;color:#444}
.chart{width:100%;break-inside:avoid;margin:4px 0 8px}
.keep{break-inside:avoid}
.lead{break-after:avoid}
.legend{font-size:8.5pt;color:#444}
dl.method{margin:0}
section.theme,section.method{break-before:page}
.kind{display:inline-block;border-radius:3px;padding:0 5px;font-size:8.5pt;border:1px solid #888}
.kind-分野横断{background:#e3f1e3;border-color:#5a9a5a}
.kind-特有{background:#fde8e0;border-color:#c0603a}
.kind-一部共通{background:#eef0f4;border-color:#8a93a6}
@page{size:A4;margin:15mm}
@media print{
 body{max-width:none;padding:0;font-size:10pt}
 *{-webkit-print-color-adjust:exact;print-color-adjust:exact}
 a{color:inherit;text-decoration:none}
}
""".replace("@FONT@", FONT_CSS)

# No fetch of any kind: scripts and styles only inline, images only data:/blob: (plotly draws SVG).
_CSP = ("default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
        "img-src data: blob:; font-src data:; connect-src 'none'; form-action 'none'; base-uri 'none'")


def _attr_text(row: Mapping, attributes: Sequence[str]) -> str:
    """「連携の分類：行政×行政 ／ 回答者：行政職員」 (escaped)."""
    parts = [f"{_e(a)}：{_e(row.get(a))}" for a in attributes if a in row and pd.notna(row.get(a))]
    return " ／ ".join(parts)


def _quote_html(row: Mapping, attributes: Sequence[str], color: str = "#999") -> str:
    meta = f"ID {_e(row.get('comment_id'))}"
    attrs = _attr_text(row, attributes)
    if attrs:
        meta += " ／ " + attrs
    return (f'<div class="quote" style="border-left-color:{color}"><div class="t">{_e(row.get("text"))}</div>'
            f'<div class="m">{meta}</div></div>')


def _num_badge(t: ThemeInfo) -> str:
    return f'<span class="num" style="background:{t.color}">{t.number}</span>'


def _kind_html(kind: str | None) -> str:
    return f'<span class="kind kind-{_e(kind)}">{_e(kind)}</span>' if kind else "―"


def _plotlyjs() -> str:
    """plotly.js from the installed plotly package, inlined once in the page's head (no CDN)."""
    from plotly.offline import get_plotlyjs

    return "<script>window.PlotlyConfig = {MathJaxConfig: 'local'};</script><script>" + get_plotlyjs() + "</script>"


def _figure_html(fig, div_id: str) -> str:
    import plotly.io as pio

    return pio.to_html(fig, full_html=False, include_plotlyjs=False, div_id=div_id, default_width="100%",
                       config=charts.plotly_config(displayModeBar=False, responsive=True))


def map_figure(data: ReportData):
    """The theme map of the report's comments: legend entries and centre labels carry theme numbers."""
    t = data.table.copy()
    names = {th.cluster: f"{th.number}. {th.label}" for th in data.themes}
    t["label"] = t["cluster"].map(names).fillna(NOISE_LABEL)
    with_legend = len(data.themes) <= MAP_LEGEND_MAX
    fig = charts.theme_map(t, color_by="theme", attributes=data.run.attributes, legend="bottom",
                           height=(620 if len(data.themes) <= 12 else 720) if with_legend else 600)
    for trace in fig.data:  # a printed report needs a short excerpt on hover, not the whole comment
        cut = [h.split("<br>") for h in trace.hovertext]
        trace.hovertext = ["<br>".join(c[: MAX_HOVER_LINES + 1]) + ("…" if len(c) > MAX_HOVER_LINES + 1 else "") for c in cut]
    fig.update_layout(showlegend=with_legend)
    for th in data.themes[:MAP_LABELS_MAX]:
        # On the member nearest the members' median: a theme split in two on the map would put
        # its median in empty space between the parts.
        xy = t.loc[t["cluster"] == th.cluster, ["x", "y"]].to_numpy(dtype=float)
        x, y = xy[np.argmin(((xy - np.median(xy, axis=0)) ** 2).sum(axis=1))]
        fig.add_annotation(x=float(x), y=float(y), text=f"<b>{th.number}</b>",
                           showarrow=False, font=dict(size=12, color="#111", family=FONT_FAMILY),
                           bgcolor="rgba(255,255,255,0.85)", bordercolor=th.color, borderwidth=1.5, borderpad=2)
    fig.update_layout(dragmode="zoom", legend=dict(font=dict(size=10)), margin=dict(l=4, r=4, t=10, b=4))
    return fig


def _values_figure(data: ReportData):
    if not data.primary:
        return None
    second = next((a for a in data.run.attributes if a != data.primary), None)
    fig = charts.attribute_bar(data.table, data.primary, second,
                               value_colors=attribute_color_maps(data.run.comments, data.run.attributes))
    fig.update_layout(height=300, margin=dict(l=4, r=4, t=10, b=4))
    return fig


def _crosstab_html(data: ReportData) -> str:
    if data.counts is None:
        return f"<p>{_e(data.compare_note)}</p>" if data.compare_note else ""
    by, counts, tests = data.primary, data.counts, data.tests
    cols = list(counts.columns)
    marks = {(r["cluster"], r["value"]): ("★" if r["significant"] else "") + ("△" if r["small"] and r["count"] else "")
             for _, r in tests.iterrows()}
    head = "".join(f'<th class="n">{_e(v)}</th>' for v in cols)
    out = [f'<table class="cross"><thead><tr><th>テーマ</th>{head}<th class="n">合計</th><th>種類</th></tr></thead><tbody>']
    for th in data.themes:
        if th.cluster not in counts.index:
            continue
        row = counts.loc[th.cluster]
        total = int(row.sum()) or 1
        cells = []
        for v in cols:
            n = int(row[v])
            alpha = 0.08 + 0.6 * n / total if n else 0.0
            style = f' style="background:rgba(76,120,168,{alpha:.2f})"' if n else ' style="color:#aaa"'
            cells.append(f'<td class="n"{style}>{n}{_e(marks.get((th.cluster, v), ""))}</td>')
        out.append(f"<tr><td>{_num_badge(th)}{_e(th.label)}</td>{''.join(cells)}<td class=\"n\">{int(row.sum())}</td>"
                   f"<td>{_kind_html(th.kind)}</td></tr>")
    if NOISE in counts.index:
        row = counts.loc[NOISE]
        cells = "".join(f'<td class="n">{int(row[v])}</td>' for v in cols)
        out.append(f'<tr class="noise"><td>{_e(NOISE_LABEL)}</td>{cells}<td class="n">{int(row.sum())}</td><td>―</td></tr>')
    tot = counts.sum(axis=0)
    out.append('<tr class="total"><td>合計</td>' + "".join(f'<td class="n">{int(tot[v])}</td>' for v in cols)
               + f'<td class="n">{int(tot.sum())}</td><td></td></tr></tbody></table>')
    n_small = int((tests["small"] & (tests["count"] > 0)).sum())
    n_cells = int((tests["count"] > 0).sum())
    out.append(
        f'<p class="legend">★ その{_e(by)}で特に多く、偶然とは言いにくい組み合わせ（Fisher の正確検定、Benjamini–Hochberg 法で'
        f"多重比較を補正して q &lt; {ALPHA}）。△ 期待される件数が {MIN_EXPECTED:.0f} 件未満の参考値（件数が少ないため割合は大きく"
        f"揺れます。結論の根拠にはせず、コメントを読んで確かめてください）。コメントのある組み合わせ {n_cells} 個のうち "
        f"{n_small} 個が参考値です。色の濃さはテーマの中での割合です。</p>"
        f'<p class="legend">種類: <b>分野横断</b> = 特有ではなく、3つ以上の{_e(by)}（値が2つなら両方）に現れるテーマ。'
        f"<b>特有</b> = ある{_e(by)}で特に多く、その偏りが偶然とは言いにくいテーマ（ほかの値に現れることもあります）。"
        "<b>一部共通</b> = そのどちらでもないテーマ。</p>")
    return "".join(out)


def _theme_list_html(data: ReportData) -> str:
    by = data.primary
    head = ('<th style="width:20%">テーマ</th><th>要約（もとのコメントのID）</th><th class="n" style="width:6%">件数</th>'
            + (f'<th style="width:21%">現れる{_e(by)}</th><th style="width:10%">種類</th>' if by else "")
            + '<th style="width:11%">安定性</th>')
    rows = []
    for th in data.themes:
        summary = f"「{_e(th.summary)}」（{_e(th.summary_id)}）" if th.summary else "―"
        name = _num_badge(th) + _e(th.label) + ('<br><span class="muted">（名前は変更済み）</span>' if th.renamed else "")
        cells = (f"<td>{name}</td><td>{summary}</td><td class=\"n\">{th.size}</td>"
                 + (f"<td>{_e(th.where)}</td><td class=\"c\">{_kind_html(th.kind)}</td>" if by else "")
                 + f"<td class=\"c\">{_e(th.stability_text)}</td>")
        rows.append(f"<tr>{cells}</tr>")
    return f'<table class="themes"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def _theme_section_html(data: ReportData, th: ThemeInfo) -> str:
    attrs = data.run.attributes
    parts = [f'<section class="theme" id="theme-{th.number}">',
             f"<h2>{_num_badge(th)}{_e(th.label)}</h2>"]
    facts = [f"{th.size} 件" + (f"（分析全体では {th.total} 件）" if th.total != th.size else ""),
             f"安定性: {_e(th.stability_text)}"]
    if th.kind:
        facts.append(f"種類: {_kind_html(th.kind)}")
    if th.renamed:
        facts.append("名前は変更済み")
    parts.append(f'<p class="meta">{" ／ ".join(facts)}</p>')
    if th.summary:
        parts.append(f'<div class="summary">要約: 「{_e(th.summary)}」<span class="muted">（{_e(th.summary_id)} の一節をそのまま引用）'
                     "</span></div>")
    if th.keywords:
        parts.append("<h3>キーワード</h3><p>" + "".join(f'<span class="kw">{_e(k)}</span>' for k in th.keywords) + "</p>")
    if data.primary and th.per_value:
        parts.append(f"<h3>{_e(data.primary)}ごとの件数</h3><p>{_e(th.where) or '―'}</p>")
    parts.append(f"<h3>代表的な声（{len(th.quotes)} 件）</h3>")
    parts.append('<p class="muted">テーマの中心に近く、互いに内容が重ならないように選んだコメントです（原文のまま）。</p>')
    parts += [_quote_html(r, attrs, th.color) for r in th.quotes.to_dict("records")]
    parts.append("</section>")
    return "".join(parts)


def report_html(data: ReportData) -> str:
    """The report as one self-contained HTML document (plotly.js inlined; no network request)."""
    run = data.run
    ds = run.dataset
    map_html = _figure_html(map_figure(data), "report-map")
    vfig = _values_figure(data)
    values_html = _figure_html(vfig, "report-values") if vfig is not None else ""
    filt_cls = "filters on" if data.filtered else "filters"
    stats = [("コメント", f"{data.n_comments} 件"), ("テーマ", f"{len(data.themes)} 個"),
             (NOISE_LABEL, f"{data.noise_share:.0%}（{data.n_noise} 件）")]
    if data.primary:
        stats.append((data.primary, f"{len(data.value_counts())} 種類"))
    out = [
        "<!DOCTYPE html>", '<html lang="ja"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<link rel="icon" href="data:,">',
        f"<title>{_e(TITLE)}：{_e(data.title)}</title>",
        f"<style>{_CSS}</style>", _plotlyjs(), "</head><body>",
        f"<header><h1>{_e(TITLE)}</h1>",
        f'<div class="sub">{_e(ds["name"] or "（名前のないデータ）")}</div>',
        f"<p>{_e(ds['description'] or '自由記述のコメントを、内容の近さで自動的にテーマに分けたものです。')}</p>",
        f'<p class="muted">作成: {data.made:%Y年%m月%d日 %H:%M} ／ 分析: {_e(run_created_ja(run))}（分析結果 {_e(run.run_id)}）</p>',
        f'<div class="{filt_cls}"><b>絞り込み:</b> {_e(data.filters_ja)}'
        f"（{data.n_comments} / {len(run.comments)} 件）</div></header>",
        "<h2>概要</h2>",
        '<div class="stats">' + "".join(f'<div class="stat"><div class="k">{_e(k)}</div><div class="n">{_e(v)}</div></div>'
                                        for k, v in stats) + "</div>",
    ]
    if data.primary:
        vc = data.value_counts()
        out.append(f'<div class="keep"><p>{_e(data.primary)}ごとの件数: ' + "、".join(f"{_e(v)} {n} 件" for v, n in vc.items())
                   + f'</p><div class="chart">{values_html}</div></div>')
    out += [
        '<div class="keep"><h2>テーマの地図</h2>',
        '<p class="muted">点の1つひとつがコメントで、内容が近いコメントほど近くに置かれます。数字はテーマの番号（下の一覧と同じ）で、'
        "そのテーマのコメントが集まっている中心に置いています"
        + (f"（件数の多い {MAP_LABELS_MAX} テーマ）" if len(data.themes) > MAP_LABELS_MAX else "")
        + "。灰色の白抜きの点は未分類です。画面で開くと、点にマウスを乗せて本文の冒頭を読めます。</p>",
        f'<div class="chart">{map_html}</div></div>',
        "<h2>テーマの一覧</h2>",
        f'<p class="muted lead">件数の多い順です。要約はテーマの中心に近いコメントの一節をそのまま引用したものです。'
        f"安定性は、乱数の種を変えてやり直しても同じテーマにまとまる割合です（{STABLE_AT} 以上で安定、{SOMEWHAT_STABLE_AT} 以上で"
        "やや安定）。</p>",
        _theme_list_html(data) if data.themes else "<p>この報告書のコメントには、テーマに分類されたものがありません。</p>",
        f'<p class="muted">このほか、未分類のコメントが {data.n_noise} 件あります。</p>' if data.n_noise else "",
    ]
    if data.primary:
        out += [f"<h2>テーマ × {_e(data.primary)}</h2>", _crosstab_html(data)]
    for th in data.themes:
        out.append(_theme_section_html(data, th))
    if data.n_noise:
        out.append('<section class="theme" id="theme-noise"><h2>未分類のコメント（例）</h2>'
                   f'<p class="meta">{data.n_noise} 件 ／ どのテーマにもはっきりとは当てはまらなかったコメントです。'
                   "間違いではなく、ほかと違う独自の声であることが多いので、読み飛ばさないでください。"
                   "ここではその中から、互いに内容の違うものを選んでいます。</p>")
        out += [_quote_html(r, run.attributes, "#b8b8b8") for r in data.noise_quotes.to_dict("records")]
        out.append("</section>")
    out.append('<section class="method" id="method"><h2>この報告書の作り方</h2>'
               "<p>寄せられたコメントを、このツールが内容の近さで自動的にグループ（テーマ）に分けました。人が読んで分類したもの"
               "ではないため、テーマの境目はおおまかな目安です。数字だけで判断せず、代表的な声や元のコメントを読んで確かめて"
               "ください。コメントは原文のまま載せています。</p>")
    out.append("<table><tbody>" + "".join(f"<tr><th style=\"width:28%\">{_e(k)}</th><td>{_e(v)}</td></tr>"
                                          for k, v in data.method) + "</tbody></table>")
    out.append(f'<p class="muted">{_e(TITLE)} ／ 分析結果 {_e(run.run_id)}</p></section></body></html>')
    return "\n".join(out)


# --------------------------------------------------------------------------- PDF


def chromium_path() -> str | None:
    """Debian's chromium (``$MOYAMOYA_CHROMIUM`` overrides), or None when it is not installed."""
    override = os.environ.get("MOYAMOYA_CHROMIUM")
    if override:
        return override if Path(override).exists() else None
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def html_to_pdf(html_text: str, timeout: float = 300.0) -> bytes:
    """Print an HTML document to PDF with headless chromium (A4, the page's own print CSS).

    Chromium runs with a throw-away profile and no background networking; virtual time lets
    the page's scripts (plotly) finish drawing before it prints. Raises :class:`ReportError` with
    a Japanese message when chromium is missing, fails or takes longer than ``timeout`` seconds.
    """
    exe = chromium_path()
    if exe is None:
        raise ReportError("PDF を作るためのブラウザ（chromium）が見つかりません。HTML 版をブラウザで開いて「印刷」から "
                          "PDF に保存するか、サーバーに chromium を入れてください（Debian: apt-get install chromium）。")
    with tempfile.TemporaryDirectory(prefix="moyamoya-pdf-") as tmp:
        src, out = Path(tmp) / "report.html", Path(tmp) / "report.pdf"
        src.write_text(html_text, encoding="utf-8")
        cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage", "--disable-extensions",
               "--mute-audio", f"--user-data-dir={Path(tmp) / 'profile'}", f"--print-to-pdf={out}",
               "--no-pdf-header-footer", "--virtual-time-budget=10000", "--run-all-compositor-stages-before-draw",
               src.as_uri()]
        # A session of its own: on a timeout the whole group (renderer, GPU and zygote processes) is ended.
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                start_new_session=True)
        try:
            _, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise ReportError(f"PDF の作成が {timeout:.0f} 秒で終わらなかったため中止しました。HTML 版を開いて印刷してください。") from None
        data = out.read_bytes() if out.exists() else b""
        if proc.returncode != 0 or not data.startswith(b"%PDF"):
            detail = err.decode("utf-8", "replace").strip().splitlines()[-1:] if err else []
            raise ReportError("ブラウザ（chromium）で PDF を作れませんでした"
                              + (f"（{detail[0][:200]}）" if detail else "") + "。HTML 版を開いて印刷してください。")
        return data


def report_pdf(data: ReportData, timeout: float = 300.0) -> bytes:
    """The HTML report printed to PDF (see :func:`html_to_pdf`)."""
    return html_to_pdf(report_html(data), timeout=timeout)
