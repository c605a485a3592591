"""Lambda entry, run on a schedule: stalled runs found, what each waits for logged, and the
missing step re-driven (`pivfleet reconcile` does the same from a shell)."""

from __future__ import annotations

from functools import cache
from typing import Any

from pivfleet.cloud.runtime import connect_role
from pivfleet.cloud.status import reconciler

deployment = cache(connect_role)


def handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
    findings = reconciler(deployment()).reconcile()
    stalled = [finding.line() for finding in findings if finding.state == "stalled"]
    return {"runs": len(findings), "stalled": stalled}
