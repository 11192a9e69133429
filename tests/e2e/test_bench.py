"""The scale benchmark runs (its --quick size) and reports every number it promises.

Its numbers are not checked: a benchmark reports, a test asserts behaviour (docs/performance.md)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]


def test_quick_benchmark_writes_json_markdown_and_a_plot(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, str(REPO / "hack/bench/bench.py"), "--quick", "--output", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["baseline_budgets"] is True  # the baseline writes a budget per Deployment
    assert [s["services"] for s in results["sizes"]] == [5, 10]
    for size in results["sizes"]:
        assert len(size["runs"]) == 2 and size["peak_rss_bytes"] > 0 and size["deletion_peak_rss_bytes"] > 0
        # the second run measures ecs-facade first: drift over the benchmark favours neither side
        assert [r["ecs_facade"]["measured_first"] for r in size["runs"]] == [False, True]
        for measured in size["runs"]:
            assert measured["baseline"]["convergence_seconds"] > 0
            ecs = measured["ecs_facade"]
            assert ecs["convergence_seconds"] > 0
            assert ecs["reconcile_latency_seconds"]["n"] == size["services"]
            assert set(ecs["reconcile_latency_seconds"]) == {"p50", "p95", "p99", "max", "n"}
            parts = ecs["reconcile_latency_parts_seconds"]
            assert set(parts) == {
                "to_apply",
                "apply",
                "to_watch",
                "create_call",
                "created_to_apply",
                "slowest_1_percent_mean",
            }
            assert parts["apply"]["n"] == size["services"]
            assert ecs["reconcile_latency_api_seconds"]["n"] == size["services"]
            assert ecs["reconcile_latency_api_seconds"]["p50"] > 0
            assert ecs["scale_latency_seconds"]["n"] >= 1
            # each change's apply read from the audit log (its answer may come a moment after the
            # watch saw the result: the audit's stage ends once the response is written)
            assert ecs["scale_latency_api_seconds"]["n"] == ecs["scale_latency_seconds"]["n"]
            assert ecs["scale_latency_api_seconds"]["p50"] > 0
            assert ecs["reconciles"] > 0 and ecs["requests"] > 0 and ecs["writes"] > 0
            assert isinstance(ecs["steady_writes"], int)
            # every service's budget comes with its workload (issue 27), so before convergence
            assert ecs["budget_writes_before_convergence"] >= size["services"]
            assert ecs["budget_write_seconds"]["n"] >= size["services"]
            assert sum(ecs["writes_by_verb"].values()) == ecs["writes"]
            # the burst's writes are some of all of them, the Deployments' creates among them
            burst = ecs["writes_in_burst"]
            assert burst.get("create deployments", 0) + burst.get("patch deployments", 0) >= size["services"]
            assert all(ecs["writes_in_burst"][k] <= ecs["writes_by_verb"][k] for k in ecs["writes_in_burst"])
            assert ecs["mean_reconcile_seconds"] > 0 and ecs["mean_queue_wait_urgent_seconds"] is not None
            assert ecs["mean_watch_lag_seconds"] is not None
            assert ecs["gc_pauses"]["0"] > 0  # the operator's collector is timed
            # the timeline, in the order things happen
            assert 0 < ecs["created_seconds"] <= ecs["convergence_seconds"]
            assert 0 < ecs["reconciled_seconds"] <= ecs["tasks_ready_seconds"]
            assert 0 < ecs["cpu_seconds_in_burst"] <= ecs["cpu_seconds_to_convergence"]
            assert measured["baseline"]["created_seconds"] > 0
            assert measured["baseline"]["create_latency_seconds"]["n"] == size["services"]
            assert measured["baseline"]["create_call_seconds"]["n"] == size["services"]
            for run in (measured["baseline"], ecs):
                assert {"kube-apiserver", "etcd", "bench client"} <= set(run["control_plane_cpu_seconds"])
    assert isinstance(results["restart"]["writes"], int)
    assert results["restart"]["rss_bytes_when_idle"] > 0
    assert results["restart"]["peak_rss_bytes"] > 0
    summary = (tmp_path / "results.md").read_text()
    assert "| services |" in summary and "| 10 | 2 | ecs-facade |" in summary
    assert (tmp_path / "convergence.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_write_cost_reports_every_kind_of_write(tmp_path: Path) -> None:
    output = tmp_path / "write-cost.json"
    run = subprocess.run(
        [sys.executable, str(REPO / "hack/bench/write_cost.py"), "--count", "5", "--repeats", "2",
         "--output", str(output)],
        capture_output=True,
        text=True,
        timeout=600,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    results = json.loads(output.read_text())
    assert set(results["kinds"]) == {
        "ECSService create",
        "ECSService status patch (merge)",
        "Deployment create (the baseline's)",
        "Deployment apply (the operator's)",
        "PodDisruptionBudget apply",
        "Event create",
    }
    for what, measured in results["kinds"].items():
        assert len(measured["rounds"]) == 2, what
        assert measured["writes"] == (10 if what.startswith("ECSService status") else 5)
        assert set(measured["cpu_ms_per_write"]) == {"etcd", "kube-apiserver", "kube-controller-manager"}
        assert measured["total_min"] <= measured["total_cpu_ms_per_write"] <= measured["total_max"]
