"""`python -m collector`: poll the results queue and call the Lambda handler, as AWS would."""

from __future__ import annotations

from pivfleet.roles import run_poller
from pivfleet.topology import results_queue

if __name__ == "__main__":
    from collector.handler import CONFIG, handle

    run_poller(results_queue(CONFIG.name_prefix).name, handle)
