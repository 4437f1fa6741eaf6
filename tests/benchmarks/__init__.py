"""Kairos benchmark suite (not part of the test run): `python -m tests.benchmarks`, see BENCHMARKS.md."""
