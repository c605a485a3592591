"""`python -m dispatcher`: poll the uploads queue and call the Lambda handler, as AWS would."""

from __future__ import annotations

from pivfleet.roles import run_poller
from pivfleet.topology import uploads_queue

if __name__ == "__main__":
    from dispatcher.handler import CONFIG, handle

    run_poller(uploads_queue(CONFIG.name_prefix).name, handle)
