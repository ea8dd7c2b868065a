"""Benchmarks of the provider's upload path (``python -m benchmarks.run``)."""
