"""pyperf result files -> one tidy pandas DataFrame, and summaries of it.

The tidy frame has one row per timed value (warmups and calibration runs left
out) and these columns:

    run               str    run id: the file name without .json / .json.gz
    file              str    path of the file
    host              str    pyperf `hostname` metadata
    python            str    Python version, e.g. "3.11.7"
    benchmark         str    pyperf benchmark name (our case name)
    suite subject op shape   str, <NA> for files `bench` did not write
    size              Int64  <NA> for files `bench` did not write
    unit              str    pyperf unit: "second" or "byte"
    process           int    0-based index of the worker process within the benchmark
    value             float  one value (seconds per loop for time benchmarks)
    subject_version   str    <NA> when absent
    payload_bytes     Int64  <NA> when absent
    peak_alloc_bytes  Int64  <NA> when absent

Values inside one process are not independent, so every statistic of the mean
is computed over per-process means (`process_means`).
"""

from __future__ import annotations

import pandas as pd

KEYS = ["run", "benchmark"]


def process_means(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per run x benchmark x process, with the mean of that process's values."""
    grouped = frame.groupby([*KEYS, "process"], sort=False, observed=True)["value"]
    return grouped.mean().rename("mean").reset_index()
