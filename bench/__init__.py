"""Benchmarks of Rexian: ``./build.sh bench [NAME...]`` (or ``python -m bench [NAME...]``).

Each ``bench/bench_<name>.py`` has ``run() -> dict``: its measurements, JSON-serialisable. The runner
(``bench/__main__.py``) runs them and merges their results into ``bench/results.json``, one entry per
module with the time and the machine it ran on; entries of modules not run this time are kept.
"""
