"""The progress line shared by `pivfleet run` and `pivfleet status`."""

from __future__ import annotations

import io

from pivfleet.cloud.status import RunStatus
from pivfleet.core.cost import Prices, Requests, RunUsage, Usage
from pivfleet.core.keys import new_generation
from pivfleet.core.plan import PairPlan, RunPlan
from pivfleet.core.progress import Counts, Progress, progress_line
from pivfleet.core.spec import RunSpec
from pivfleet.core.summary import PairStatus, rejected, summarise


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
    assert running.cost_line() is None and refused.cost_line() is None


def test_status_of_a_finished_run_says_what_it_cost() -> None:
    usage = Usage(
        worker_seconds=10, vcpu_seconds=10, gb_seconds=40, requests=Requests(s3_get=3, sqs_send=2)
    )
    statuses = [PairStatus(pair="p", status="done", usage=usage)]
    summary = summarise("r", statuses, 12.0, RunUsage(), Prices())
    line = RunStatus("r", None, 1, statuses, summary).cost_line()
    assert line is not None
    assert line.startswith("cost: 10.0 worker-s (10.0 vCPU-s, 40.0 GB-s), 3 S3 and 2 SQS")
    # 10 vCPU-s and 40 GB-s on Spot, 3 GETs, 2 SQS requests.
    expected = (10 * 0.01334058 + 40 * 0.00146489) / 3600 + 3 * 0.0004 / 1000 + 2 * 0.4e-6
    assert f"about ${expected:.7f} on AWS" in line
