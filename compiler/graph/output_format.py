"""Which format `infra graph -o FILE` writes: the one FILE's suffix names.

Writing Mermaid text into `architecture.svg` gives a file no viewer opens, so the
suffix decides when `--format` is not given, and a `--format` that contradicts the
suffix is refused rather than silently obeyed.
"""

from __future__ import annotations

import os
from pathlib import Path

from compiler.graph.render import Format

SUFFIX_FORMATS: dict[str, Format] = {
    ".svg": "svg",
    ".dot": "dot",
    ".gv": "dot",
    ".mmd": "mermaid",
    ".md": "mermaid",
}
DEFAULT_FORMAT: Format = "mermaid"  # on stdout, and for a file whose suffix names none
_NAMES = {"svg": "an SVG image", "dot": "a Graphviz DOT file", "mermaid": "a Mermaid file"}


class GraphFormatError(ValueError):
    """`--format` and the suffix of `-o FILE` name different formats."""


def output_format(requested: Format | None, output: Path | None) -> Format:
    """The format to draw in: `requested` (from --format) if given, else the one the
    output file's suffix names, else Mermaid. A conflict between the two is an error."""
    inferred = SUFFIX_FORMATS.get(output.suffix.lower()) if output is not None else None
    if requested and inferred and requested != inferred:
        raise GraphFormatError(
            f"--format {requested} does not match {str(output)!r}, which names "
            f"{_NAMES[inferred]} ({output.suffix}); drop --format to write {inferred}, "
            f"or name the file with {_suffixes(requested)}"
        )
    return requested or inferred or DEFAULT_FORMAT


def is_the_spec(output: Path, spec: Path) -> bool:
    """Whether `-o FILE` names the spec being drawn (by any path or link): writing the
    picture there would destroy the spec it was drawn from."""
    try:
        return os.path.samefile(output, spec)
    except (OSError, ValueError):
        return False  # either does not exist (the spec's own error comes later)


def file_content(picture: bytes, output: Path) -> bytes:
    """What goes into the file: in Markdown (.md), the Mermaid text inside a fenced
    `mermaid` block, which is what GitHub and most Markdown viewers draw."""
    if output.suffix.lower() == ".md":
        return b"```mermaid\n" + picture + b"```\n"
    return picture


def _suffixes(output_format: Format) -> str:
    return " or ".join(s for s, f in SUFFIX_FORMATS.items() if f == output_format)
