"""What Streamlit has no option for: Japanese in its own widgets, and a layout that works on a phone.

Streamlit's file uploader ("Upload", "20MB per file"), its table toolbar ("Download as CSV",
"Search", "Fullscreen", "Show/hide columns") and column menu ("Sort ascending", "Pin column",
"Statistics" …), "Choose an option" and the screen-reader labels of
its controls are English strings in its frontend bundle, with no setting. A small script, added
once to the page, translates exactly those strings — text and the ``aria-label`` / ``title`` /
``placeholder`` attributes — as they appear, including in tooltips drawn later (a
MutationObserver). It runs locally from the page itself: no request leaves the machine. On a
narrow screen it also closes the sidebar after a page is chosen (Streamlit leaves it open over
the page). Checked in chromium at 1400 and 390 px wide (``tests/test_browser.py``), which also
keeps the list of English strings that must not appear.
"""

from __future__ import annotations

import json

import streamlit as st

from analysis.ingest.comments import MAX_UPLOAD_BYTES
from ui.state import KEY_RUN

_LIMIT_MB = MAX_UPLOAD_BYTES // 1024 // 1024

#: Streamlit's own English strings and their Japanese (text nodes and attributes alike).
STRINGS_JA: dict[str, str] = {
    "Upload": "ファイルを選ぶ",
    "Browse files": "ファイルを選ぶ",
    "Drag and drop file here": "ここにファイルをドラッグ＆ドロップ",
    "Drag and drop files here": "ここにファイルをドラッグ＆ドロップ",
    f"{_LIMIT_MB}MB per file": f"{_LIMIT_MB} MB まで",
    f"Limit {_LIMIT_MB}MB per file": f"{_LIMIT_MB} MB まで",
    f"File must be {_LIMIT_MB}MB or smaller.": f"ファイルは {_LIMIT_MB} MB 以下にしてください。",
    # the data page's uploader takes up to five times the limit (the reader then explains in Japanese)
    f"{5 * _LIMIT_MB}MB per file": f"{_LIMIT_MB} MB まで",
    f"Limit {5 * _LIMIT_MB}MB per file": f"{_LIMIT_MB} MB まで",
    f"File must be {5 * _LIMIT_MB}MB or smaller.": f"ファイルは {_LIMIT_MB} MB 以下にしてください。",
    "file upload": "ファイルの読み込み",
    "Remove file": "ファイルを外す",
    "Delete file": "ファイルを外す",
    "Choose an option": "選んでください",
    "Choose options": "選んでください",
    "No results": "該当なし",
    "No options to select": "選べる項目がありません",
    "Clear all": "すべて解除",
    "Clear value": "解除",
    "Skip to main content": "本文へ移動",
    "App pages": "ページ",
    "Sidebar": "サイドバー",
    "Collapse sidebar": "サイドバーを閉じる",
    "Expand sidebar": "サイドバーを開く",
    "Increment": "1 増やす",
    "Decrement": "1 減らす",
    "Download as CSV": "CSV として保存",
    "Search": "検索",
    "Fullscreen": "全画面表示",
    "Close fullscreen": "全画面表示を終える",
    "Show/hide columns": "列の表示・非表示",
    "Link to heading": "見出しへのリンク",
    "Open": "開く",
    "Close": "閉じる",
    "Running...": "実行中…",
    "Copy to clipboard": "コピー",
    "Show password text": "パスワードを表示",
    "Hide password text": "パスワードを隠す",
    "Press Enter to apply": "Enter で確定",
    "Press Enter to submit form": "Enter で送信",
    "Press ⌘+Enter to apply": "⌘+Enter で確定",
    "Press Ctrl+Enter to apply": "Ctrl+Enter で確定",
    "Stop": "中止",
    "Loading...": "読み込み中…",
    # The table's column menu, its search box, column chooser and statistics (Streamlit 1.67).
    "Dataframe column menu": "列のメニュー",
    "Sort ascending": "小さい順に並べる",
    "Sort descending": "大きい順に並べる",
    "Format": "表示形式",
    "Autosize": "幅を合わせる",
    "Pin column": "列を固定する",
    "Unpin column": "列の固定をやめる",
    "Hide column": "列を隠す",
    "Copy column name": "列名をコピー",
    "Statistics": "統計",
    "Type to search": "検索する言葉",
    "Close Search": "検索を閉じる",
    "Next Result": "次の結果",
    "Previous Result": "前の結果",
    "Select all": "すべて選ぶ",
    "(index)": "（行番号）",
    "Automatic": "自動",
    "Localized": "地域の書式",
    "Plain": "そのまま",
    "Compact": "短縮",
    "Percent": "パーセント",
    "Scientific": "指数表記",
    "Accounting": "会計",
    "Count": "件数",
    "Distinct": "異なる値",
    "Empty": "空",
    "Minimum": "最小",
    "Maximum": "最大",
    "Average": "平均",
    "Median": "中央値",
    "Sum": "合計",
    "Standard deviation": "標準偏差",
    "25th percentile": "25 パーセンタイル",
    "75th percentile": "75 パーセンタイル",
    "Minimum length": "最短の長さ",
    "Maximum length": "最長の長さ",
    "Average length": "平均の長さ",
    "Top values frequency chart": "多い値の頻度",
    "Based on sample": "標本にもとづく",
    "No data": "データなし",
    "Select...": "選んでください",
    "Values": "値",
    "Dollar": "ドル",
    "Euro": "ユーロ",
    "Yen": "円",
    "Duration": "期間",
}

#: Strings Streamlit builds from a number or a label (regular expression → replacement, JavaScript
#: syntax): the table search's counter and the help icons' screen-reader labels.
PATTERNS_JA: tuple[tuple[str, str], ...] = (
    (r"^(\d[\d,]*) of (\d[\d,]*) results?$", "$2 件中 $1 件目"),
    (r"^(\d[\d,]*) results?$", "$1 件"),
    (r"^over (\d[\d,]*) results?$", "$1 件以上"),
    (r"^Help for (.+)$", "$1 の説明"),
)

_SCRIPT = """
<script>
(function () {
  if (window.frameElement) window.frameElement.title = "表示の補助（日本語化）";
  const doc = window.parent.document;
  if (!doc || doc.getElementById('mm-i18n')) return;
  const s = doc.createElement('script');
  s.id = 'mm-i18n';
  s.textContent = `(() => {
    const JA = __STRINGS__;
    const PATTERNS = __PATTERNS__.map(([re, to]) => [new RegExp(re), to]);
    const ATTRS = ['aria-label', 'title', 'placeholder', 'data-title'];
    const ja = (t) => {
      if (Object.prototype.hasOwnProperty.call(JA, t)) return JA[t];
      for (const [re, to] of PATTERNS) if (re.test(t)) return t.replace(re, to);
      return null;
    };
    const fix = (root) => {
      const w = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
      while (w.nextNode()) {
        const n = w.currentNode, t = n.nodeValue.trim(), j = t ? ja(t) : null;
        if (j !== null) n.nodeValue = n.nodeValue.replace(t, j);
      }
      const els = root.querySelectorAll ? root.querySelectorAll('[aria-label],[title],[placeholder],[data-title]') : [];
      for (const el of [root, ...els]) {
        if (!el.getAttribute) continue;
        for (const a of ATTRS) {
          const v = el.getAttribute(a), j = v ? ja(v.trim()) : null;
          if (j !== null) el.setAttribute(a, j);
        }
      }
    };
    fix(document.body);
    new MutationObserver((ms) => {
      for (const m of ms) {
        if (m.type === 'characterData') { fix(m.target.parentNode || document.body); continue; }
        if (m.type === 'attributes') { fix(m.target); continue; }
        for (const n of m.addedNodes) fix(n.nodeType === 3 ? (n.parentNode || document.body) : n);
      }
    }).observe(document.body, {subtree: true, childList: true, characterData: true, attributes: true,
                                attributeFilter: ATTRS});
    // Phones: close the sidebar once a page or a run is chosen (Streamlit leaves it open over the
    // page). A run is an option of the picker's list, which Streamlit draws outside the sidebar
    // while the picker keeps the focus; filters stay open for choosing several values.
    document.addEventListener('click', (e) => {
      if (window.innerWidth > 640) return;
      const page = e.target.closest('[data-testid="stSidebarNav"] a');
      const run = e.target.closest('[role="option"]') && document.activeElement
        && document.activeElement.closest('.st-key-__RUN_KEY__');
      if (!page && !run) return;
      setTimeout(() => {
        const b = document.querySelector('[data-testid="stSidebarCollapseButton"] button, ' +
          'button[aria-label="サイドバーを閉じる"], button[aria-label="Collapse sidebar"]');
        if (b) b.click();
      }, 150);
    }, true);
  })();`;
  doc.head.appendChild(s);
})();
</script>
"""

CSS = """
<style>
/* The page's own small widgets: the invisible translation frame takes no room. */
.st-key-mm_i18n { display: none; }
/* Phones: full-width content, cards instead of wide tables (see ui.overview.theme_list). */
.mm-narrow-only { display: none; }
@media (max-width: 640px) {
  [data-testid="stMainBlockContainer"] { padding-left: 0.6rem; padding-right: 0.6rem; }
  [data-testid="stMetricValue"] { font-size: 1.3rem; }
  .mm-narrow-only { display: block; }
  .st-key-wide_table, [class*="st-key-wide_table_"] { display: none; }
}
</style>
"""


def _in_template(value: object) -> str:
    """``value`` as JSON inside the script's JavaScript template literal, which would otherwise eat
    one level of backslashes and end at a backtick."""
    return json.dumps(value, ensure_ascii=False).replace("\\", "\\\\").replace("`", "\\`").replace("${", "\\${")


# Built once per process: the same for every page run.
_SCRIPT_SOURCE = (_SCRIPT.replace("__STRINGS__", _in_template(STRINGS_JA)).replace("__PATTERNS__", _in_template(PATTERNS_JA))
                  .replace("__RUN_KEY__", KEY_RUN))


def inject() -> None:
    """Add the page CSS and (once per page) the translation script."""
    st.html(CSS)
    with st.container(key="mm_i18n", height=1, border=False):
        st.iframe(_SCRIPT_SOURCE, height=1, tab_index=-1,
                  alt="表示の補助（日本語化）")
