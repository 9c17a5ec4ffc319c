"""Performance benchmarks: ``python -m benchmarks`` (see ``_harness.py``)."""
