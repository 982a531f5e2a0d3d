"""What a run measures: wall time or instruction counts, and every fact that follows from it.

A run writes its metric once, into `bench_setup` (bench.run.provenance); a file without it (pyperf's
own, or older) is known by its pyperf unit. Every command that branches on the metric asks
`get_metric` (a name) or `metric_of_units` (what a file holds), never a unit string of its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from bench.errors import InputError


@dataclass(frozen=True)
class Metric:
    """One metric: its pyperf unit, the smallest change that counts, what a run of it does."""

    name: str            # as on the command line and in bench_setup: "time", "instructions"
    unit: str            # pyperf's unit of its values
    threshold: float     # the verdict rule's default: smallest change that counts (a fraction)
    noun: str            # what a value is, in words
    scheduled: bool      # a run in passes with an adaptive CI target and a budget (load moves it),
                         # on pyperf with the profile's settings; else each case measured once
    paired_ab: bool      # `bench ab` interleaves rounds and pairs them (else: each side counted once)
    suites: frozenset[str]  # the suites it can measure
    writes_capabilities: bool  # a run of it writes the capability matrix beside its results

    def can_measure(self, suite: str) -> bool:
        """True when a case of `suite` can be measured by this metric.

        >>> INSTRUCTIONS.can_measure("ship"), TIME.can_measure("ship")
        (False, True)
        """
        return suite in self.suites


TIME = Metric("time", "second", 0.05, "wall time", scheduled=True, paired_ab=True,
              suites=frozenset({"ser", "fold", "ref", "ship"}), writes_capabilities=True)
# A count does not move with load: 1% of a count is a change in the work done.
INSTRUCTIONS = Metric("instructions", "integer", 0.01, "instructions", scheduled=False,
                      paired_ab=False, suites=frozenset({"ser", "fold", "ref"}),
                      writes_capabilities=False)
METRICS: dict[str, Metric] = {m.name: m for m in (TIME, INSTRUCTIONS)}


def get_metric(name: str) -> Metric:
    """The metric of a name; InputError for an unknown one.

    >>> get_metric("instructions").unit
    'integer'
    """
    try:
        return METRICS[name]
    except KeyError:
        raise InputError(f"unknown metric {name!r} (known: {', '.join(METRICS)})") from None


def metric_of_unit(unit: str) -> Metric:
    """The metric whose values are in pyperf `unit` (a file that does not say: by its unit).

    >>> metric_of_unit("integer").name, metric_of_unit("second").name
    ('instructions', 'time')
    """
    return next((m for m in METRICS.values() if m.unit == unit), TIME)


def metric_of_units(units: Iterable[str]) -> Metric | None:
    """The one metric of values in these units, or None when they mix metrics (or are none).

    >>> metric_of_units(["integer", "integer"]).name, metric_of_units(["second", "integer"])
    ('instructions', None)
    """
    found = {metric_of_unit(unit) for unit in units if isinstance(unit, str)}
    return found.pop() if len(found) == 1 else None


def metric_of_run(setup: Mapping[str, Any], units: Iterable[str]) -> Metric | None:
    """The metric a results file holds: the one its run wrote into `bench_setup`, else (a file
    that does not say) the one of its units; None when its units mix metrics.

    >>> metric_of_run({"metric": "instructions"}, ["integer"]).name, metric_of_run({}, ["second"]).name
    ('instructions', 'time')
    """
    name = setup.get("metric")
    if isinstance(name, str) and name in METRICS:
        return METRICS[name]
    return metric_of_units(units)


def common_metric(metrics: Iterable[Metric | None]) -> Metric | None:
    """The one metric of several runs, or None when they are of different (or mixed) metrics.

    >>> common_metric([TIME, TIME]).name, common_metric([TIME, INSTRUCTIONS]), common_metric([None])
    ('time', None, None)
    """
    found = set(metrics)
    return found.pop() if len(found) == 1 else None


def choose_threshold(threshold: float | None, units: Iterable[str]) -> float:
    """The threshold given (0 included), else the default of the metric these units are of
    (time's when they mix).

    >>> choose_threshold(None, ["integer"]), choose_threshold(0.0, ["integer"]), choose_threshold(None, [])
    (0.01, 0.0, 0.05)
    """
    if threshold is not None:
        return threshold
    return (metric_of_units(units) or TIME).threshold


def is_count_unit(unit: object) -> bool:
    """True for the unit of instruction counts.

    >>> is_count_unit("integer"), is_count_unit("second")
    (True, False)
    """
    return unit == INSTRUCTIONS.unit
