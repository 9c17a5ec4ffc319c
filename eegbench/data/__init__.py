"""Helpers that dataset plugins share: preprocessing (filters, resampling, z-scoring) and splits."""
