"""The benchmarks are not tests: `python -m tests.benchmarks` runs them (see BENCHMARKS.md).
Nothing here is collected by pytest, even when the folder is named on the command line."""

collect_ignore_glob = ["*.py"]
