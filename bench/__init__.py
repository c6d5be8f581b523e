"""Benchmarks of vcsync against real local control planes (issue 7): sync latency, bulk throughput, restart, memory and
idle cost, each next to the floor the API servers impose, measured in the same run. `python -m bench --help`."""
