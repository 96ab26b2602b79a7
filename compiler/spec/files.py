"""Files a spec names beside itself (scheduled task sources, the instances' user data).

They are read here, in the validate stage, relative to the spec file's directory (passed
as validation context `spec_dir`), so a missing, oversized or non-text file is a located
spec error and builders stay free of I/O. The text read is kept on a `str` subclass that
is still the path as written, so the spec round-trips and the pipeline can record the
bytes it read (see `pipeline.compile_in_memory`).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationInfo

from compiler.bounded_read import InputTooLarge, NotARegularFile, read_bounded
from compiler.errors import os_error_text


class SpecFile(str):
    """A path as written in the spec, carrying the text of the file it names."""

    code: str

    def __new__(cls, path: str, code: str = "") -> SpecFile:
        named = super().__new__(cls, path)
        named.code = code
        return named


def spec_dir(info: ValidationInfo) -> Path:
    return Path((info.context or {}).get("spec_dir", "."))


def read_beside_spec(value: str, directory: Path, what: str, max_bytes: int, why: str) -> str:
    """The UTF-8 text of `value`, a file under `directory`. `what` names the file in
    messages ("task source", "user data"); `why` says where the size limit comes from."""
    try:
        return _read_beside_spec(value, directory, what, max_bytes, why)
    except OSError as error:  # a name too long, a loop of links, no permission
        raise ValueError(f"cannot read {what} file: {os_error_text(error)}") from None


def _read_beside_spec(value: str, directory: Path, what: str, max_bytes: int, why: str) -> str:
    if Path(value).is_absolute():
        raise ValueError(
            f"'{value}' is an absolute path; give the {what} file relative to the spec "
            "file's directory"
        )
    path = directory / value
    if not path.resolve().is_relative_to(directory.resolve()):
        raise ValueError(
            f"'{value}' is outside the spec file's directory; keep {what} files beside the spec"
        )
    if path.is_dir():
        raise ValueError(f"{what} '{value}' is a directory; name the file")
    if not path.exists():
        raise ValueError(f"missing {what} file '{value}' (looked for {path.resolve()})")
    try:
        raw = read_bounded(path, max_bytes)  # refuses FIFOs and devices unread
    except NotARegularFile as error:
        raise ValueError(f"{what} file '{value}': {error}") from None
    except InputTooLarge as error:
        raise ValueError(
            f"{what} file '{value}' is {error.size}; it may be at most {max_bytes:,} bytes ({why})"
        ) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"{what} file '{value}' is not UTF-8 text") from None
    if not text.strip():
        raise ValueError(f"{what} file '{value}' is empty")
    return text
