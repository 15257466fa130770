"""Peak memory of a fresh gateway while it ingests many rows by COPY, one COPY per chunk.

The gateway is started for this case alone, so its VmHWM (the kernel's
exact high-water mark of resident memory) covers this load and nothing
else. Its VmRSS after start-up, before any client connects, is the idle
figure.
"""

from __future__ import annotations

from bench import gateway as gateway_server
from bench.copy_load import timed_copy
from bench.cpu_data import CpuGenerator, csv_text
from bench.process_stats import RssSampler, memory_kib
from bench.results import Figure
from bench.verify import check_row_count

DATABASE = "bench_memory"
MEASUREMENT = "cpu"


def memory_case(total_rows: int, chunk_rows: int) -> list[Figure]:
    """COPY ``total_rows`` rows in COPYs of ``chunk_rows`` into a new gateway; return memory and rate figures."""
    generator = CpuGenerator()
    copy_seconds = 0.0
    largest_chunk_bytes = 0
    with gateway_server.running_gateway() as gateway:
        pid = gateway.process.pid
        conninfo = gateway_server.conninfo(gateway, DATABASE)
        idle_kib = memory_kib(pid)["VmRSS"]
        with RssSampler(pid) as sampler:
            for start in range(0, total_rows, chunk_rows):
                data = csv_text(generator.rows(min(chunk_rows, total_rows - start))).encode()
                largest_chunk_bytes = max(largest_chunk_bytes, len(data))
                copy_seconds += timed_copy(conninfo, MEASUREMENT, data)
                del data
        peak_kib = memory_kib(pid)["VmHWM"]
        check_row_count(conninfo, MEASUREMENT, total_rows)

    chunks = -(-total_rows // chunk_rows)
    above_idle_mib = (peak_kib - idle_kib) / 1024
    return [
        Figure(
            f"peak RSS above idle, {total_rows:,} rows by COPY", "MiB", above_idle_mib,
            largest_chunk_bytes / (1024 * 1024), "CSV of one COPY",
            detail=f"{chunks:,} COPYs of {chunk_rows:,} rows; idle {idle_kib / 1024:.0f} MiB, "
                   f"peak {peak_kib / 1024:.0f} MiB (VmHWM), largest sampled VmRSS "
                   f"{sampler.peak_kib / 1024:.0f} MiB ({sampler.samples:,} samples)",
            higher_is_better=False),
        Figure(f"COPY rate during the {total_rows:,}-row load", "rows/s", total_rows / copy_seconds,
               detail=f"{copy_seconds:.1f} s in COPY statements; generating the CSV between COPYs is not timed"),
    ]
