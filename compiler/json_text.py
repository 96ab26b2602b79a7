"""Templates as JSON text, in the one layout every written template has.

Kept apart from `render` (which imports troposphere and the spec models) because lint
needs it too: the lint view is linted as this text, whose lines must be the written
template's lines, and a lint run should not import what only a compile needs.
"""

from __future__ import annotations

import orjson


# orjson rather than the standard library: `json.dumps(indent=2)` falls back to its
# pure-Python encoder, a tenth of a compile's run time; orjson writes the same bytes
# (tests/test_render.py compares them) in a fiftieth of the time.
def to_json_bytes(data) -> bytes:
    return orjson.dumps(data, option=orjson.OPT_INDENT_2) + b"\n"
