"""A cell's timeout stops the build promptly: a build whose lesson hangs, timed against one whose
lesson does not, side by side in one run.

    python benchmarks/timeout.py

Both builds start cold on a copy of the test fixture course (two small lessons) plus one lesson
with a 2-second timeout: in the first its cell sleeps 60 s, so the build must fail with
"timed out after 2 s"; in the second the cell returns at once. The goal: the failing build takes
at most the passing build plus the 2 s timeout plus 50% (it was a 40 s wall-clock assert in
`tests/test_pipeline.py`).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from generator.site.build import build_course  # noqa: E402
from generator.site.execute import ExecutionFailed  # noqa: E402
from tests.pipeline_support import make_course, notebook, write_notebook  # noqa: E402

TIMEOUT = 2
GOAL = 1.5


def timed_build(cell: str) -> tuple[float, str]:
    """Seconds a cold build of the fixture course plus a lesson running `cell` took, and how
    it ended."""
    with tempfile.TemporaryDirectory() as tmp:
        course = make_course(Path(tmp))
        lesson = notebook(("markdown", "# Timed"), ("code", cell), timeout=TIMEOUT)
        write_notebook(course / "lessons" / "03-timed.ipynb", lesson)
        start = time.perf_counter()
        try:
            build_course(course, jobs=2)
            outcome = "built"
        except ExecutionFailed as error:
            outcome = str(error).splitlines()[0]
        return time.perf_counter() - start, outcome


def main() -> None:
    hanging, failure = timed_build("import time\ntime.sleep(60)")
    quick, success = timed_build("1")
    assert "timed out after 2 s" in failure, failure
    assert success == "built", success
    ratio = hanging / (quick + TIMEOUT)
    print(f"{'build':32} {'seconds':>8}")
    print(f"{'lesson hangs (timeout 2 s)':32} {hanging:8.2f}  {failure}")
    print(f"{'lesson returns at once':32} {quick:8.2f}")
    verdict = "ok" if ratio <= GOAL else "OVER"
    print(f"ratio hanging / (quick + {TIMEOUT} s) = {ratio:.2f}  goal <= {GOAL:g}  {verdict}")


if __name__ == "__main__":
    main()
