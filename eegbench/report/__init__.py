"""Presentation: leaderboards, the HTML report page and the figures, all read from finished
runs."""

FORMATS = ("md", "latex", "csv", "html", "json")
"""Leaderboard output formats (here, so the CLI can offer them without importing the tables)."""
