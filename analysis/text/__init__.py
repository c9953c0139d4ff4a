"""Japanese text tools: SudachiPy tokens (a tokenizer per thread), welfare terms, forgiving word search, KWIC.

May import: analysis.schema / errors / config / storage / progress only (every other package builds on this one).
"""
