"""Sensors over the landing zone: late files rerun within the lookback, reported beyond it."""

from metering_pipeline.sensors.fingerprint import landing_digest
from metering_pipeline.sensors.landing_check import build_late_files_check, landing_zone
from metering_pipeline.sensors.late_files import build_late_file_sensor

late_file_sensor = build_late_file_sensor()
late_files_check = build_late_files_check()

__all__ = ["build_late_file_sensor", "build_late_files_check", "landing_digest", "landing_zone", "late_file_sensor", "late_files_check"]
