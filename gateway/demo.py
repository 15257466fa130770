"""The demo database: real public weather series shipped in the vega_datasets package.

``seattle_temps`` contains the hourly air temperature of Seattle in 2010
(degrees Fahrenheit, 8,759 rows); ``seattle_weather`` the daily
precipitation, temperatures, wind and weather of 2012-2015.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from gateway.ingest.parquet_files import TIME_TYPE, write_hour_files
from gateway.sql.measurements import Measurements

logger = logging.getLogger(__name__)

DEMO_DATABASE = "demo"


def _dataset_file(name: str) -> Path:
    import vega_datasets

    return Path(vega_datasets.__file__).parent / "_data" / name


def _read(name: str, time_format: str) -> pa.Table:
    table = pacsv.read_csv(_dataset_file(name))
    times = pc.strptime(table["date"], format=time_format, unit="us")
    times = pc.assume_timezone(times, "UTC")
    table = table.drop_columns(["date"])
    return table.add_column(0, "time", pc.cast(times, TIME_TYPE))


def load_demo(measurements: Measurements) -> bool:
    """Write the demo measurements unless database ``demo`` exists; return True if written."""
    if measurements.database_exists(DEMO_DATABASE):
        logger.info("demo database already present in %s", measurements.backend.description)
        return False
    sources = {
        "seattle_temps": _read("seattle-temps.csv", "%Y/%m/%d %H:%M"),
        "seattle_weather": _read("seattle-weather.csv", "%Y/%m/%d"),
    }
    for name, table in sources.items():
        files = write_hour_files(measurements.backend, DEMO_DATABASE, name, table)
        logger.info("demo: wrote %d rows of %s into %d files", table.num_rows, name, len(files))
    return True
