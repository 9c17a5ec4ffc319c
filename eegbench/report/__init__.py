"""Reporting: the run record, benchmark suites and leaderboards."""

FORMATS = ("md", "latex", "csv", "html", "json")
"""Leaderboard output formats (here, so the CLI can offer them without importing the tables)."""
