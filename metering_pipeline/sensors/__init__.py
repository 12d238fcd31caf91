"""The late-file sensor over the landing zone: late files rerun within the lookback, reported beyond it.

changes.py     which hours' landing files changed since they were processed (no ClickHouse)
late_files.py  the sensor, the `landing_zone` external asset and its beyond-lookback check
"""

from metering_pipeline.sensors.late_files import build_late_file_sensor, build_late_files_check, landing_zone

late_file_sensor = build_late_file_sensor()
late_files_check = build_late_files_check()

__all__ = ["build_late_file_sensor", "build_late_files_check", "landing_zone", "late_file_sensor", "late_files_check"]
