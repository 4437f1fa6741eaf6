"""`python -m tests.benchmarks`: the benchmark suite's one entry point (see run.py)."""

from tests.benchmarks.run import main

raise SystemExit(main())
