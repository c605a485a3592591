"""The cost model: prices applied by hand, how AWS bills each kind of call, and the spec's
`prices` section."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from pivfleet.core.cost import (
    Prices,
    Requests,
    RunUsage,
    Usage,
    WorkerSize,
    describe_cost,
    estimate_cost,
    s3_delete_requests,
    s3_list_requests,
    sqs_send_requests,
)
from pivfleet.core.spec import RunSpec
from pivfleet.core.summary import PairStatus, summarise

GIB = 2**30
USAGE = Usage(
    worker_seconds=3600,
    vcpu_seconds=3600,
    gb_seconds=7200,
    requests=Requests(
        s3_get=10_000,
        s3_head=5_000,
        s3_put=1_000,
        s3_list=1_000,
        s3_delete=7,
        sqs_send=400_000,
        sqs_receive=300_000,
        sqs_delete=200_000,
        sqs_change_visibility=100_000,
    ),
    bytes_read=123,
    bytes_written=456,
    bytes_kept=2 * GIB,
)


def test_the_default_prices_on_spot() -> None:
    cost = estimate_cost(USAGE, Prices())
    # 1 vCPU-hour and 2 GB-hours at the Spot prices.
    assert cost.workers_usd == pytest.approx(0.01334058 + 2 * 0.00146489)
    # A million SQS requests at $0.40 per million.
    assert cost.sqs_usd == pytest.approx(0.40)
    # 2,000 PUT/LIST at $0.005 per 1,000, 15,000 GET/HEAD at $0.0004 per 1,000; deletes free.
    assert cost.s3_requests_usd == pytest.approx(0.010 + 0.006)
    assert cost.total_usd == pytest.approx(0.01627036 + 0.40 + 0.016)
    assert cost.storage_usd_per_month == pytest.approx(2 * 0.023)


def test_on_demand_and_a_mix_of_capacity() -> None:
    on_demand = estimate_cost(USAGE, Prices(fargate_spot_share=0))
    assert on_demand.workers_usd == pytest.approx(0.04048 + 2 * 0.004445)
    half = estimate_cost(USAGE, Prices(fargate_spot_share=0.5))
    assert half.workers_usd == pytest.approx((0.01627036 + 0.04937) / 2)


def test_prices_given_replace_the_defaults() -> None:
    prices = Prices(sqs_million_requests_usd=0.5, s3_thousand_reads_usd=0.001)
    cost = estimate_cost(USAGE, prices)
    assert cost.sqs_usd == pytest.approx(0.5)
    assert cost.s3_requests_usd == pytest.approx(0.010 + 0.015)


def test_nothing_used_costs_nothing() -> None:
    cost = estimate_cost(Usage(), Prices())
    assert cost.total_usd == 0 and cost.storage_usd_per_month == 0


def test_sqs_bills_batches_of_ten_by_64_kib() -> None:
    assert sqs_send_requests([]) == 0
    assert sqs_send_requests(["x"] * 25) == 3
    assert sqs_send_requests(["x" * 65_536]) == 1
    assert sqs_send_requests(["x" * 10_240] * 10) == 2  # 100 KiB in one batch


def test_s3_pages_of_a_thousand_keys() -> None:
    assert [s3_list_requests(n) for n in (0, 1, 1000, 1001)] == [1, 1, 1, 2]
    assert [s3_delete_requests(n) for n in (0, 1, 1000, 2001)] == [0, 1, 1, 3]


def test_usages_add_up_field_by_field() -> None:
    one = Usage(worker_seconds=1.5, requests=Requests(s3_get=2, sqs_send=1), bytes_read=10)
    two = Usage(worker_seconds=2.25, requests=Requests(s3_get=3, sqs_delete=1), bytes_kept=5)
    assert one + two == Usage(
        worker_seconds=3.75,
        requests=Requests(s3_get=5, sqs_send=1, sqs_delete=1),
        bytes_read=10,
        bytes_kept=5,
    )
    assert RunUsage(workers=one, collector=two).total == one + two


def test_a_worker_size_turns_seconds_into_vcpu_and_gb_seconds() -> None:
    held = WorkerSize(vcpu=0.5, memory_gb=2).held(10)
    assert (held.worker_seconds, held.vcpu_seconds, held.gb_seconds) == (10, 5, 20)
    with pytest.raises(ValidationError):
        WorkerSize(vcpu=0)


def test_bad_prices_are_refused() -> None:
    with pytest.raises(ValidationError, match="fargate_spot_share"):
        Prices(fargate_spot_share=1.5)
    with pytest.raises(ValidationError, match="sqs_million_requests_usd"):
        Prices(sqs_million_requests_usd=-1)


def test_the_spec_takes_prices_and_names_a_misspelt_one() -> None:
    spec = RunSpec.model_validate({"run": "r", "prices": {"fargate_spot_share": 0}})
    assert spec.prices.fargate_spot_share == 0
    assert spec.prices.fargate_vcpu_hour_usd == 0.04048
    with pytest.raises(ValidationError, match="fargate_cpu_hour_usd"):
        RunSpec.model_validate({"run": "r", "prices": {"fargate_cpu_hour_usd": 1}})


def test_the_summary_adds_the_pairs_and_the_roles_and_prices_the_total() -> None:
    pair = Usage(worker_seconds=2, vcpu_seconds=2, gb_seconds=8, requests=Requests(s3_get=4))
    collected = Usage(requests=Requests(s3_put=3), bytes_kept=100)  # ×3: 300 bytes kept
    statuses = [
        PairStatus(pair=name, status="done", usage=pair, collector_usage=collected)
        for name in ("a", "b")
    ]
    roles = RunUsage(dispatcher=Usage(requests=Requests(sqs_send=1)), collector=collected)
    prices = Prices(fargate_spot_share=0)
    summary = summarise("r", statuses, 1.0, roles, prices)
    assert summary.usage == RunUsage(
        workers=pair + pair,
        dispatcher=roles.dispatcher,
        collector=collected + collected + collected,
    )
    assert summary.cost == estimate_cost(summary.usage.total, prices)
    line = describe_cost(summary.usage.total, summary.cost)
    assert "about $0.000113 on AWS" in line and "$0.00000000643 a month" in line
    assert "4.0 worker-s" in line and "17 S3 and 1 SQS requests" in line and "$" in line
