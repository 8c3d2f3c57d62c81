"""Files and text the product writes: the board workbook, formula-safe CSV/XLSX, what the CLI prints."""
