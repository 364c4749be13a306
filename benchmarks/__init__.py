"""Speed, convergence and memory benchmarks of nmdcore (not part of the test suite).

Run ``python -m benchmarks.run --quick``; see benchmarks/README.md.
"""
