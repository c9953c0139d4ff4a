"""Streamlit-only helpers shared by the dashboard pages (analysis/ never imports this)."""
