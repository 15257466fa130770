"""Targets computed from a run's results: the ratios the page reports, met or not."""

from __future__ import annotations

from datetime import UTC, datetime

from bench.concurrency import ConcurrencyResult
from bench.streaming import StreamingMemory, StreamingTimes
from bench.suite_results import RunContext, SuiteResults, targets
from bench.suite_scale import QUICK

CONTEXT = RunContext(datetime(2026, 1, 1, tzinfo=UTC), "python -m bench", "machine", "software", "abc1234",
                     (0.1, 0.2))


def results_with(streaming: StreamingTimes | None = None, memory: StreamingMemory | None = None,
                 concurrency: ConcurrencyResult | None = None) -> SuiteResults:
    return SuiteResults(CONTEXT, QUICK, "15.18", None, memory, streaming, None, None, concurrency)


def test_no_suites_give_no_targets() -> None:
    assert targets(results_with()) == []


def test_streaming_ratios_use_medians() -> None:
    streaming = StreamingTimes("SELECT 1", 10, gateway=[1.0, 2.0, 9.0], postgres=[2.5, 2.5, 2.5],
                               buenavista=[30.0], output_difference="")
    found = {target.name: target for target in targets(results_with(streaming=streaming))}
    versus_postgres = found["gateway time / PostgreSQL 15 time, psql"]
    versus_buenavista = found["buenavista time / gateway time, psql"]
    assert versus_postgres.measured == 0.8
    assert versus_postgres.met
    assert versus_buenavista.measured == 15.0
    assert not versus_buenavista.met


def test_memory_target_is_mib_above_idle() -> None:
    memory = StreamingMemory("SELECT 1", 10, 1.0, idle_kib=100 * 1024, peak_kib=500 * 1024,
                             sampled_peak_kib=450 * 1024, samples=3)
    [target] = targets(results_with(memory=memory))
    assert target.measured == 400.0
    assert not target.met


def test_concurrency_targets_count_errors_and_cores() -> None:
    concurrency = ConcurrencyResult(32, 10.0, [0.1, 0.2], {}, ["lastpoint: connection lost"], 15.0, 1.0)
    errors, cores = targets(results_with(concurrency=concurrency))
    assert errors.measured == 1
    assert not errors.met
    assert cores.measured == 1.5
    assert cores.met
