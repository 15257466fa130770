"""The files holding the rows that a DELETE, TRUNCATE or DROP applies to.

Such a statement applies to the rows acknowledged before it began, and to
no others. It flushes the measurement's buffered rows first, so that it
works on files alone, and leaves out the files of buffers started after
that flush:

1. the ids of the writer's buffers of the measurement are taken, then the
   files are listed;
2. the buffers are flushed, which returns the ids of the flushed ones;
3. the files are listed again. A file is kept if the first listing had it
   or a buffer of step 1 or 2 wrote it (its name ends in that buffer's
   id). Any other file was written by a buffer started after step 2.

Rows acknowledged between steps 1 and 2 may fall in either group.
"""

from __future__ import annotations

from gateway.ingest.arrow_writer import ArrowWriter, BufferedRows
from gateway.sql.measurements import MeasurementFiles, Measurements
from gateway.sql.time_bounds import TimeRange
from gateway.storage import layout


def acknowledged_files(measurements: Measurements, writer: ArrowWriter, database: str, measurement: str,
                       time_range: TimeRange) -> MeasurementFiles:
    """Flush the measurement's buffered rows and return the files in ``time_range`` written before that.

    Raises StorageError if the flush fails; nothing is changed then.
    """
    earlier = writer.snapshot(database, measurement).segment_ids
    listed = {info.path for info in measurements.files(database, measurement, time_range).chosen}
    flushed = writer.flush_measurement(database, measurement)
    after = measurements.files(database, measurement, time_range)
    writers = BufferedRows((), earlier | flushed)
    chosen = [info for info in after.chosen if info.path in listed or writers.owns(info.path)]
    bases = {layout.file_version(info.path)[0] for info in chosen}
    older = [info for info in after.superseded if layout.file_version(info.path)[0] in bases]
    return MeasurementFiles(database, measurement, chosen, after.total, superseded=older)
