"""Benchmarks: a generated world, the real server under load, the floor it is measured by."""
