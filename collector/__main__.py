"""`python -m collector`: poll the results queue with the Lambda's handler logic, as AWS would."""

from __future__ import annotations

from pivfleet.cloud.runtime import serve

if __name__ == "__main__":
    from collector.handler import collector, results

    serve(results, collector(), "the results queue")
