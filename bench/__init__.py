"""Benchmarks run by `make bench` (`python -m bench`); each `*_bench.py` module has a `main()`."""
