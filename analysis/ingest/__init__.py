"""Reading comments in: the seed document, an office's CSV / TSV / Excel file, column roles, masking of personal data.

May import: the foundation (schema, errors, config, storage, progress) and analysis.text; never themes, store, explore or report.
"""
