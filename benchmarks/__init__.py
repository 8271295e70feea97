"""Benchmarks: BFCL multi-turn accuracy, serving speed, orchestration overhead."""
