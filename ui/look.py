"""Page styling that Streamlit has no option for: Japanese in its own widgets, narrow screens.

Streamlit's file uploader ("Drag and drop file here", "Limit 20MB per file", "Browse files")
and some toolbar labels are hard-coded English in its frontend bundle. Page CSS hides those texts
and shows Japanese ones in their place (pseudo-elements, so nothing a screen reader relies on is
removed from the widget's own label, which we write in Japanese). Checked in chromium at 1400 and
390 px wide (``tests/test_browser.py``).
"""

from __future__ import annotations

import streamlit as st

from analysis.corpus import MAX_UPLOAD_BYTES

_LIMIT_MB = MAX_UPLOAD_BYTES // 1024 // 1024

CSS = f"""
<style>
/* File uploader: Japanese instructions instead of Streamlit's English ones. */
[data-testid="stFileUploaderDropzoneInstructions"] > div > span {{ display: none; }}
[data-testid="stFileUploaderDropzoneInstructions"] > div > small {{ display: none; }}
[data-testid="stFileUploaderDropzoneInstructions"] > div::before {{
  content: "ここにファイルをドラッグ＆ドロップ";
  display: block; font-size: 0.95rem; margin-bottom: 0.15rem;
}}
[data-testid="stFileUploaderDropzoneInstructions"] > div::after {{
  content: "CSV・TSV・テキスト・Excel（.xlsx）、{_LIMIT_MB} MB まで";
  display: block; font-size: 0.8rem; opacity: 0.75;
}}
[data-testid="stFileUploaderDropzone"] button {{ font-size: 0; }}
[data-testid="stFileUploaderDropzone"] button::after {{ content: "ファイルを選ぶ"; font-size: 0.9rem; }}
/* Phones: cards and charts use the full width, the map legend goes below the map. */
@media (max-width: 640px) {{
  [data-testid="stMainBlockContainer"] {{ padding-left: 0.6rem; padding-right: 0.6rem; }}
  [data-testid="stMetricValue"] {{ font-size: 1.3rem; }}
}}
</style>
"""


def inject() -> None:
    """Add the page CSS once per script run (an invisible element)."""
    st.html(CSS)
