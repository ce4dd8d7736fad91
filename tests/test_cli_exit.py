"""footnote.cli.main: a command that only reads ends the process at once (exit_now), keeping what an exit shows."""

from __future__ import annotations

import subprocess
import sys


def test_exit_now_runs_the_exit_handlers_flushes_and_keeps_the_code():
    code = (
        "import atexit, sys\n"
        "atexit.register(lambda: print('handler ran'))\n"
        "from footnote.cli import exit_now\n"
        "print('result', end='')\n"
        "print('progress', end='', file=sys.stderr)\n"
        "exit_now(3)\n"
        "print('never')\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 3
    assert proc.stdout == "resulthandler ran\n" and proc.stderr == "progress"


def test_a_reading_command_keeps_its_exit_code_and_usage_errors_keep_click_s(tmp_path):
    home = str(tmp_path / "home")
    listed = subprocess.run(
        [sys.executable, "-m", "footnote.cli", "--home", home, "papers", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert listed.returncode == 0 and listed.stdout.strip() == "[]", listed.stderr
    bad = subprocess.run(
        [sys.executable, "-m", "footnote.cli", "--home", home, "cite", "x", "-k", "0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2 and "Invalid value for '-k'" in bad.stderr
