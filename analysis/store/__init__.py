"""Saved runs and everything written beside them: run folders, side files, edit log, curation, shortlists, jobs, accounts, safe cells.

May import: the foundation, text, ingest and themes; never explore or report.
"""
