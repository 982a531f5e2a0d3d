"""Everything that makes a results file: cases and profiles, the orchestrator and its worker,
instruction counts under callgrind, the adaptive schedule, shards, merge, resume, provenance,
the ship suite's runs and the capability probes."""
