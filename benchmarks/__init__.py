"""Benchmarks of nep_core: scripts that print figures, run from the project root. Not part of the
package (they use the test-only peers pymannkendall and pingouin) and not tests.

    python -m benchmarks.bench_stats [--pixels N]      each statistic on N px x 24 years (make bench)
    python -m benchmarks.report [--run DIR ...]        measure and write data/benchmarks/
    benchmarks.appendix                                read data/benchmarks/ for the book's appendix D
"""
