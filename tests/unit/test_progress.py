"""The progress line shared by `pivfleet run` and `pivfleet status`."""

from __future__ import annotations

import io

from pivfleet.cloud.status import RunStatus
from pivfleet.core.keys import new_generation
from pivfleet.core.plan import PairPlan, RunPlan
from pivfleet.core.progress import Counts, Progress, progress_line
from pivfleet.core.spec import RunSpec
from pivfleet.core.summary import PairStatus, rejected


def test_line_counts_rate_and_eta() -> None:
    line = progress_line(Counts(pairs=10, tiles=100, pairs_done=3, tiles_done=40, failed=1), 20.0)
    assert "pairs 3/10 (1 failed)" in line and "tiles 40/100" in line
    assert "2.00 tiles/s" in line and "ETA 30s" in line


def test_eta_unknown_before_the_first_tile() -> None:
    assert "ETA ?" in progress_line(Counts(pairs=1, tiles=8), 5.0)


def test_progress_is_silent_off_a_terminal_but_still_reports_failures() -> None:
    stream = io.StringIO()
    progress = Progress(pairs=2, tiles=4, stream=stream)
    progress.tile_done()
    progress.note("pair x failed: broken")
    progress.close()
    assert stream.getvalue() == "pair x failed: broken\n"


def test_status_line_of_a_running_and_a_rejected_run() -> None:
    plan = RunPlan(
        spec=RunSpec(run="r"),
        generation=new_generation(),
        pairs=[PairPlan(name=n, frame_a="a", frame_b="b", tile_count=4) for n in ("p", "q")],
    )
    running = RunStatus("r", plan, 5, [PairStatus(pair="p", status="failed")], None)
    assert "pairs 1/2 (1 failed)" in running.line() and "tiles 5/8" in running.line()
    assert not running.finished
    refused = RunStatus("r", None, 0, [], rejected("r", "windows must not grow"))
    assert refused.finished and "rejected: windows must not grow" in refused.line()
