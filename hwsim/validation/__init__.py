"""Validation of the simulator against measured hardware, and calibration from those rows.

measured.py reads a measured-results CSV, mapping.py turns its hardware/model/quant strings
into presets, predict.py simulates the same workload, fit.py fits efficiencies per device and
per device class, report.py prints and plots predicted against measured.
"""
