"""The `bench report` side: summaries -> matplotlib figures -> one self-contained HTML page."""

from bench.report.report import build_report, load_capabilities, render_report

__all__ = ["build_report", "load_capabilities", "render_report"]
