"""Run Python code in a fresh interpreter, for what one process can only show once (what an import does)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def fresh_json(code: str, *args: str, path: tuple[Path, ...] = ()) -> list:
    """The JSON the code prints last, run as ``python -c`` with ``args`` in the checkout (``path`` first on
    sys.path); the run must succeed."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(str(p) for p in (*path, ROOT, env.get("PYTHONPATH")) if p)
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])
