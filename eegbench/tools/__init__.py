"""Tools on finished runs: inference, diagnostics, embedding caches, documentation."""
