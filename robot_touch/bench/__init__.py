"""Benchmarks run by `robot-touch bench <name>`; figures go to docs/benchmarks.md."""
