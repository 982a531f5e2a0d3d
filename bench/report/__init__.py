"""The `bench report` side: findings -> sections -> matplotlib figures -> one HTML page.

findings.py computes every number once; questions.py answers the claims from them;
sections.py and matrix.py build the page's sections (blocks.py is the page model);
plots.py draws the figures; render.py renders the page (build_report, render_report).
"""
