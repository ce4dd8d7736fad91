"""Progress on stderr with rich: one bar for papers, a line per paper's current stage."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

stderr = Console(stderr=True)


class RichProgress:
    def __init__(self, label: str = "papers") -> None:
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[status]}", markup=False),  # a file name is not markup
            console=stderr,
            transient=True,
            disable=not stderr.is_terminal,
        )
        self._label = label
        self._task = None

    def __enter__(self) -> RichProgress:
        self._progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.__exit__(*exc)

    def start(self, total: int) -> None:
        self._task = self._progress.add_task(self._label, total=total, status="")

    def stage(self, paper: str, stage: str) -> None:
        if self._task is not None:
            self._progress.update(self._task, status=f"{paper}: {stage}")

    def done(self, paper: str, outcome: str) -> None:
        if self._task is not None:
            self._progress.update(self._task, advance=1, status=f"{paper}: {outcome}")
