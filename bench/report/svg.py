"""The SVG text of the report's figures: made fit to share one page, and made small.

matplotlib writes verbose SVG: an id on every group, six decimals on every coordinate, an
indented line per element. `clean_svg` drops the prologue and metadata and prefixes the
ids that are referenced; `compact_svg` removes what a browser does not need (unreferenced
ids, groups without attributes, whitespace between tags, digits below 0.01 pt) and leaves
every drawn element and every text as it was; `share_styles` turns repeated style attributes
into classes of the figure's own stylesheet.
"""

from __future__ import annotations

import re

COORDINATE_ATTRIBUTES = re.compile(r'(\s(?:d|x|y|x1|x2|y1|y2|cx|cy|r|width|height|transform'
                                   r'|points|viewBox)=")([^"]*)(")')
LONG_DECIMAL = re.compile(r"(-?\d+\.\d\d)\d+")
TAG_GAP = re.compile(r">\s+<")
PATH_BREAK = re.compile(r"\s*\n\s*")
GROUP_TAG = re.compile(r"<g>|<g\s[^>]*>|</g>")
STYLE_ATTRIBUTE = re.compile(r'style="([^"{}]*)"')


def clean_svg(text: str, prefix: str) -> str:
    """Drop the XML prologue and metadata, and prefix ids so many SVGs share one page."""
    text = text[text.index("<svg"):]
    text = re.sub(r"<metadata>.*?</metadata>", "", text, flags=re.S)
    text = compact_svg(text)
    text = re.sub(r'(\bid="|url\(#|href="#)', lambda m: f"{m.group(1)}{prefix}-", text)
    text = share_styles(text, prefix)
    return text.replace("<svg ", '<svg class="plot" ', 1)


def share_styles(text: str, prefix: str, least: int = 3) -> str:
    """Style attributes used `least` times or more become classes `PREFIX-sN`, defined once.

    The rules go into the figure's own <style> element, so the figure stays self-contained;
    the prefix keeps the class names of the figures of one page apart.

    >>> share_styles('<svg><defs><style>*{}</style></defs>' + '<path style="fill: red"/>' * 3,
    ...              "f1")[:80]
    '<svg><defs><style>*{}.f1-s0{fill: red}</style></defs><path class="f1-s0"/><path '
    """
    counts: dict[str, int] = {}
    for style in STYLE_ATTRIBUTE.findall(text):
        counts[style] = counts.get(style, 0) + 1
    shared = {style: f"{prefix}-s{index}" for index, style in
              enumerate(s for s, n in counts.items() if n >= least)}
    if not shared or "</style>" not in text:
        return text
    text = STYLE_ATTRIBUTE.sub(lambda m: f'class="{shared[m.group(1)]}"' if m.group(1) in shared
                               else m.group(0), text)
    rules = "".join(f".{name}{{{style}}}" for style, name in shared.items())
    return text.replace("</style>", rules + "</style>", 1)


def round_coordinates(text: str) -> str:
    """Coordinates in geometry attributes cut to 2 decimals (text content untouched).

    >>> round_coordinates('<path d="M 1.234567 2.5 L 3.999999 4"/><text x="1.23456">0.12345</text>')
    '<path d="M 1.23 2.5 L 3.99 4"/><text x="1.23">0.12345</text>'
    """
    return COORDINATE_ATTRIBUTES.sub(
        lambda m: m.group(1) + LONG_DECIMAL.sub(r"\1", m.group(2)) + m.group(3), text)


def drop_unused_ids(text: str) -> str:
    """Remove the id attributes that no url(#...) or href="#..." refers to.

    >>> drop_unused_ids('<g id="a"><use href="#b"/></g><path id="b"/>')
    '<g><use href="#b"/></g><path id="b"/>'
    """
    used = set(re.findall(r'(?:url\(#|href="#)([^")]+)', text))
    return re.sub(r'\sid="([^"]+)"', lambda m: m.group(0) if m.group(1) in used else "", text)


def unwrap_bare_groups(text: str) -> str:
    """Remove <g> elements that have no attributes, keeping their children in place.

    >>> unwrap_bare_groups('<g><g id="a"><g><path/></g></g></g>')
    '<g id="a"><path/></g>'
    """
    out: list[str] = []
    bare: list[bool] = []
    last = 0
    for match in GROUP_TAG.finditer(text):
        out.append(text[last:match.start()])
        tag = match.group(0)
        if tag == "</g>":
            if not bare.pop():
                out.append(tag)
        else:
            bare.append(tag == "<g>")
            if tag != "<g>":
                out.append(tag)
        last = match.end()
    out.append(text[last:])
    return "".join(out)


def compact_svg(text: str) -> str:
    """matplotlib's SVG without what a browser does not need; the same drawing and texts.

    >>> compact_svg('<svg>\\n <g id="x">\\n  <path d="M 0.123456 1 \\nL 2 3 \\nz\\n"/>\\n </g>\\n</svg>')
    '<svg><path d="M 0.12 1 L 2 3 z"/></svg>'
    """
    text = drop_unused_ids(text)
    text = unwrap_bare_groups(text)
    text = TAG_GAP.sub("><", text)
    text = re.sub(r'\s(d|points)="([^"]*)"',
                  lambda m: f' {m.group(1)}="{PATH_BREAK.sub(" ", m.group(2)).strip()}"', text)
    text = re.sub(r' transform="rotate\(-0 [^)]*\)"', "", text)
    return round_coordinates(text)
