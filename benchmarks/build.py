"""`course build` timed against its baselines, side by side in one run, on a copy of the course.

    python benchmarks/build.py [--course DIR] [--jobs N]

1. cold build vs executing the same notebooks one after another with `jupyter nbconvert --execute`
   (goal: at most 0.6x on 2 cores);
2. a rebuild with nothing changed vs a bare `mkdocs build` of the same docs (goal: at most 0.5x);
3. a markdown-only edit of one lesson vs the bare `mkdocs build` (goal: at most 0.8x);
4. rows 2 and 3 again with `--engine zensical`, against a bare `zensical build` of the same docs
   and config (with Zensical's own cache, filled by a first run, as a user runs it; `course
   build` keeps a cache of its own, in `build/zensical/`).

Every command runs as a subprocess, as a user would type it. The course and the generator's code
are copied to a temporary directory first (the copy is first on PYTHONPATH, for the build and its
kernels), so the repository's own build/, site/ and cache are left alone and an edit to the
working tree during the run does not count as a change.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
REPEAT = 3


def run(args: list[str], cwd: Path, pythonpath: Path) -> float:
    """Seconds `args` took; a failure stops the benchmark with its output."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(pythonpath)}
    start = time.perf_counter()
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"{' '.join(args)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    if os.environ.get("BENCH_VERBOSE"):
        print(f"$ {' '.join(args)}  ({seconds:.2f} s)\n{done.stdout}{done.stderr[-1500:]}")
    return seconds


def copy_course(source: Path, target: Path) -> Path:
    target.mkdir(parents=True)
    shutil.copy(ROOT / "mkdocs.yml", target / "mkdocs.yml")
    shutil.copytree(ROOT / "docs", target / "docs")
    shutil.copytree(source, target / "lessons")
    return target


def edit_markdown(lesson: Path) -> None:
    nb = json.loads(lesson.read_text(encoding="utf-8"))
    cell = next(c for c in nb["cells"] if c["cell_type"] == "markdown")
    text = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
    cell["source"] = text + "\n\nAn extra sentence, edited for the benchmark."
    lesson.write_text(json.dumps(nb, indent=1), encoding="utf-8")


def row(label: str, ours: float, baseline: float, goal: float) -> str:
    ratio = ours / baseline
    verdict = "meets" if ratio <= goal else "MISSES"
    return (
        f"{label:<34} {ours:7.2f} s vs {baseline:7.2f} s = {ratio:4.2f}x "
        f"(goal <= {goal}x: {verdict})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--course",
        type=Path,
        default=ROOT / "lessons",
        help="lessons directory (default: the shipped lessons)",
    )
    parser.add_argument("--jobs", type=int, default=None)
    args = parser.parse_args()
    lessons = sorted(args.course.glob("*.ipynb"))
    if not lessons:
        sys.exit(f"{args.course}: no lessons to time")
    course_cmd = [str(BIN / "course"), "build"] + (["--jobs", str(args.jobs)] if args.jobs else [])
    with tempfile.TemporaryDirectory(prefix="course-bench-") as tmp:
        course = copy_course(args.course, Path(tmp) / "course")
        src = Path(tmp) / "src"
        shutil.copytree(
            ROOT / "generator", src / "generator", ignore=shutil.ignore_patterns("__pycache__")
        )
        out = Path(tmp) / "nbconvert"
        sequential = sum(
            run(
                [
                    str(BIN / "jupyter"),
                    "nbconvert",
                    "--to",
                    "notebook",
                    "--execute",
                    "--ExecutePreprocessor.timeout=600",
                    "--output-dir",
                    str(out),
                    str(path),
                ],
                cwd=course / "lessons",
                pythonpath=src,
            )
            for path in sorted((course / "lessons").glob("*.ipynb"))
        )
        cold = run(course_cmd, cwd=course, pythonpath=src)
        bare_mkdocs = [
            str(BIN / "mkdocs"),
            "build",
            "-q",
            "-f",
            str(course / "build" / "mkdocs.yml"),
            "-d",
            str(Path(tmp) / "bare-site"),
        ]
        # Zensical writes where its config says (build/zensical-site/, inside build/ as it asks).
        bare_zensical = [
            str(BIN / "zensical"),
            "build",
            "-f",
            str(course / "build" / "zensical.yml"),
        ]
        rows = {}
        for engine, bare_cmd in (("mkdocs", bare_mkdocs), ("zensical", bare_zensical)):
            engine_cmd = [*course_cmd, "--engine", engine]
            run(engine_cmd, cwd=course, pythonpath=src)  # the switch of engine rebuilds once
            rows[engine] = quick_rows(engine_cmd, bare_cmd, course, src)
    print(
        f"{len(lessons)} lessons from {args.course}, {os.cpu_count()} cores, "
        f"load average {os.getloadavg()[0]:.1f}; quick rows: best of {REPEAT}"
    )
    print(row("cold build vs nbconvert one by one", cold, sequential, 0.6))
    for engine, (unchanged, bare, markdown_edit) in rows.items():
        print(row(f"{engine}: nothing changed vs bare", unchanged, bare, 0.5))
        print(row(f"{engine}: markdown edit vs bare", markdown_edit, bare, 0.8))


def quick_rows(
    course_cmd: list[str], bare_cmd: list[str], course: Path, src: Path
) -> tuple[float, float, float]:
    """Best of REPEAT, interleaved so a busy moment hits all three alike: a rebuild with nothing
    changed, the engine's bare build, a rebuild after a markdown-only edit of the first lesson."""
    unchanged, bare, markdown_edit = [], [], []
    first = sorted((course / "lessons").glob("*.ipynb"))[0]
    run(bare_cmd, cwd=course, pythonpath=src)  # the bare build's own cache (Zensical's) filled
    for _ in range(REPEAT):
        unchanged.append(run(course_cmd, cwd=course, pythonpath=src))
        bare.append(run(bare_cmd, cwd=course, pythonpath=src))
        edit_markdown(first)
        markdown_edit.append(run(course_cmd, cwd=course, pythonpath=src))
    return min(unchanged), min(bare), min(markdown_edit)


if __name__ == "__main__":
    main()
