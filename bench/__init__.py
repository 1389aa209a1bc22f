"""Watchium's benchmarks: each module prints a table, writes JSON to bench/results/ and compares
its numbers with a baseline measured in the same run. `make bench` runs them all."""
