"""The foundations every layer shares: errors, the canonical schema, settings, the portfolio, references, text."""
