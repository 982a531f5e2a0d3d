"""The "History" section: change points over a history of runs (`bench report --history`).

Per changed case a small trend line of its per-run medians with each step marked and the
commit where it starts named, then the table of change points; the analysis is
bench.gate.history's, the same as `bench history`.
"""

from __future__ import annotations

from bench.gate.history import History
from bench.gate.render import describe_history, summarize_history, tabulate_changes
from bench.report import plots
from bench.report.blocks import Section, Text, make_figure, make_table, missing

MAX_PANELS = 12  # changed cases drawn; the table lists all


def history_section(history: History) -> Section:
    """Trend lines of the changed cases and the table of every change point."""
    section = Section("history", "History")
    section.blocks.append(Text(
        f"{describe_history(history)}. Per case, the median of each run's values; a change point "
        "is a step between two segments of runs found by ruptures (PELT), kept when the "
        "segments differ by the threshold and by a Welch t test (p < 0.001); the newest run "
        "alone is tested against the segment before it. " + summarize_history(history) + "."))
    if not history.changes:
        section.blocks.append(missing("No change point in this history."))
        return section
    changed = list(dict.fromkeys(change.case for change in history.changes))
    panels = [{"case": case, "values": history.series[case], "unit": history.units[case],
               "steps": [(c.index, c.label, c.ratio) for c in history.changes if c.case == case]}
              for case in changed[:MAX_PANELS]]
    more = f" (the first {MAX_PANELS} of {len(changed)})" if len(changed) > MAX_PANELS else ""
    section.blocks.append(make_figure(
        plots.plot_history(panels, "Changed cases over the runs"),
        f"Median time per run of each changed case{more}; a dashed line marks where a step "
        "starts (red slower, green faster), labelled with the run's commit and the ratio."))
    headers, rows = tabulate_changes(history)
    section.blocks.append(make_table(headers, rows, "Change points"))
    return section
