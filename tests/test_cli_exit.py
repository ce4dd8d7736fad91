"""footnote.cli.entry: a command that only reads ends the process at once (exit_now), keeping what an exit shows."""

from __future__ import annotations

import subprocess
import sys
import textwrap

# Run as the `footnote` command does. An object that prints when freed shows whether the interpreter was torn
# down (it is freed then, with the __main__ module); the exit handler shows that the handlers ran either way.
RUN = textwrap.dedent(
    """
    import atexit, sys

    class Freed:
        def __del__(self):
            print("torn down", file=sys.stderr)

    kept = Freed()
    atexit.register(lambda: print("handler ran", file=sys.stderr))
    from footnote.cli import entry

    sys.argv = ["footnote", *sys.argv[1:]]
    entry()
    """
)


def _footnote(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", RUN, *args], capture_output=True, text=True, timeout=120)


def test_exit_now_waits_for_threads_runs_the_handlers_flushes_and_keeps_the_code():
    code = (
        "import atexit, sys, threading, time\n"
        "atexit.register(lambda: print('handler ran'))\n"
        "from footnote.cli import exit_now\n"
        "threading.Thread(target=lambda: (time.sleep(0.3), print('thread done', end=' '))).start()\n"
        "print('result', end=' ')\n"
        "print('progress', end='', file=sys.stderr)\n"
        "exit_now(3)\n"
        "print('never')\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 3
    assert proc.stdout == "result thread done handler ran\n" and proc.stderr == "progress"


def empty_archive(path) -> str:
    """A home with an archive and no papers in it."""
    from footnote.settings import Settings
    from index.archive import Archive

    Archive(Settings(home=path)).close()
    return str(path)


def test_a_reading_command_ends_at_once_with_its_result_and_its_exit_code(tmp_path):
    home = empty_archive(tmp_path / "home")
    listed = _footnote("--home", home, "papers", "--json")
    assert listed.returncode == 0 and listed.stdout.strip() == "[]", listed.stderr
    assert "handler ran" in listed.stderr and "torn down" not in listed.stderr
    refused = _footnote("--home", home, "cite", "6.5×", "--paper", "2502.1318")  # an error inside the command
    assert refused.returncode == 1 and "torn down" not in refused.stderr
    assert refused.stderr.splitlines()[0].startswith("error: --paper '2502.1318': not in the archive")


def test_usage_errors_and_writing_commands_exit_normally(tmp_path):
    home = str(tmp_path / "home")
    usage = _footnote("--home", home, "cite", "x", "-k", "0")  # refused by click before the command runs
    assert usage.returncode == 2 and "Invalid value for '-k'" in usage.stderr
    assert "torn down" in usage.stderr
    ingest = _footnote("--home", home, "ingest", str(tmp_path / "missing.pdf"))
    assert ingest.returncode != 0 and "torn down" in ingest.stderr and "handler ran" in ingest.stderr


def test_main_called_from_python_ends_as_click_ends_it(tmp_path):
    empty_archive(tmp_path / "home")
    code = (
        "import sys\n"
        "from footnote.cli import main\n"
        f"sys.argv = ['footnote', '--home', {str(tmp_path / 'home')!r}, 'papers', '--json']\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as exc:\n"
        "    print('caller goes on', exc.code)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout.splitlines()[-1] == "caller goes on 0", proc.stderr
