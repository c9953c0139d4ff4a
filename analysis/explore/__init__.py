"""Questions asked of saved runs: theme × attribute tables and tests, run comparison, fitting new comments, search, quotes, stability, sweeps.

May import: the foundation, text, ingest, themes and store; never report.
"""
