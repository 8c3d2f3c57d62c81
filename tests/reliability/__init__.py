"""Reliability: hostile files, many users at once, crashes, safe defaults."""
