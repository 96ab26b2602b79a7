"""What scripts/setup-venv.sh installs, and the key of the shared environment holding it.

`python3 scripts/venv_key.py key` prints a short hash of the requirements (build system,
dependencies, the dev extra) and of the interpreter: two clones with the same pyproject
requirements and the same Python share one cached environment, and a change to either
makes a new one. `python3 scripts/venv_key.py requirements` prints the requirements, one
a line, for pip.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tomllib
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"


def requirements() -> list[str]:
    project = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))
    return [
        *project["build-system"]["requires"],  # the editable install builds without isolation
        *project["project"]["dependencies"],
        *project["project"]["optional-dependencies"]["dev"],
    ]


def key() -> str:
    identity = {
        "requirements": requirements(),
        "python": sys.version,
        "interpreter": os.path.realpath(sys.executable),
    }
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]


if __name__ == "__main__":
    if sys.argv[1:] == ["key"]:
        print(key())
    elif sys.argv[1:] == ["requirements"]:
        print("\n".join(requirements()))
    else:
        sys.exit("usage: venv_key.py key|requirements")
