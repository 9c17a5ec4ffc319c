"""Reporting: the run record, benchmark suites and leaderboards."""
