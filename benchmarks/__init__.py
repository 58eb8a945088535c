"""Benchmarks that print their figures: speed is checked here, never by timed assertions in tests."""
