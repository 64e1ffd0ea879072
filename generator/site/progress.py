"""What `course build` prints: a progress line per lesson, then the closing table."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table

from generator.site.build import BuildReport, build_course
from generator.site.engines import DEFAULT_ENGINE
from generator.site.execute import ExecutionFailed
from generator.site.lessons import Lesson

STATES = {
    "running": "[yellow]running[/]",
    "cached": "[cyan]cached[/]",
    "executed": "[green]executed[/]",
    "failed": "[red]failed[/]",
}


def report_table(report: BuildReport) -> Table:
    """Lesson, executed or cached, seconds, models published, checks passed."""
    table = Table(title="nothing changed" if report.nothing_changed else None)
    table.add_column("lesson")
    table.add_column("status")
    table.add_column("seconds", justify="right")
    table.add_column("models", justify="right")
    table.add_column("checks passed", justify="right")
    for row in report.rows:
        checks = f"{row.checks_passed}/{row.checks}" if row.checks else "-"
        table.add_row(
            row.lesson,
            STATES.get(row.status, row.status),
            f"{row.seconds:.1f}",
            str(row.models),
            checks,
        )
    return table


def build_with_progress(
    root: Path,
    lessons_dir: Path | None,
    jobs: int | None,
    timeout: float,
    keep_going: bool,
    wait: bool = True,
    engine: str = DEFAULT_ENGINE,
) -> BuildReport:
    """Run `build_course`, printing each lesson's state as it changes, then the table.

    Another build of the project running: print whom we wait for (or fail, without `wait`).
    """
    console = Console(stderr=True, highlight=False)

    def progress(lesson: Lesson, state: str) -> None:
        console.print(f"  {STATES.get(state, state)}  {lesson.path.name}")

    report = build_course(
        root,
        lessons_dir=lessons_dir,
        jobs=jobs,
        timeout=timeout,
        keep_going=keep_going,
        progress=progress,
        wait=wait,
        on_wait=lambda message: console.print(message, markup=False, soft_wrap=True),
        engine=engine,
    )
    out = Console()
    if not out.is_terminal:
        out = Console(width=120)  # a log or a pipe: do not cut lesson names at 80 columns
    out.print(report_table(report))
    where = "site/ is up to date" if report.nothing_changed else "built site/"
    console.print(f"{where} in {report.seconds:.1f} s")
    if report.failures:
        raise ExecutionFailed(
            f"{len(report.failures)} lesson(s) failed (error pages built):\n"
            + "\n".join(report.failures)
        )
    return report
