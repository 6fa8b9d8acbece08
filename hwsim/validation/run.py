"""The validation run: predictions for every mapped row under each calibration mode.

Modes: `preset` (the hardware preset as written), `calibrated` (configs/calibration.yaml, or a
fit on these very rows: in-sample), `held_out` (leave-one-device-out: the device's rows predicted
from a calibration fitted without it, so only its class default applies).
"""

from __future__ import annotations

from typing import Callable

from hwsim.calibration import Calibration, apply_calibration
from hwsim.spec.hardware import HardwareSpec
from hwsim.validation.fit import Fitter, with_launch
from hwsim.validation.mapping import Case
from hwsim.validation.predict import case_hardware, predict_seconds, to_metric
from hwsim.validation.report import add_errors

# A small fixed subset for CI: one Apple chip per generation tier and both NVIDIA classes, so a
# held-out fit still has class neighbours.
FAST_SUBSET_PRESETS = ("apple-m1-pro-14c", "apple-m2-ultra-76c", "apple-m4-pro-16c", "apple-m4-max-40c",
                       "h100-sxm", "rtx-3090", "rtx-5080")
FAST_SUBSET_MODELS = ("llama-2-7b",)


def fast_subset(cases: list[Case]) -> list[Case]:
    return [c for c in cases if c.hardware in FAST_SUBSET_PRESETS and c.model in FAST_SUBSET_MODELS]


def predict_rows(cases: list[Case], hardware_for: Callable[[Case], HardwareSpec], mode: str,
                 engine: str):
    """One record per case: measured and predicted in the metric's unit."""
    import pandas as pd

    records = []
    for case in cases:
        hardware = hardware_for(case)
        seconds = predict_seconds(case, hardware, engine)
        row = case.row
        records.append({"id": row.id, "preset": case.hardware, "class": hardware.device_class,
                        "runtime": str(case.runtime),
                        "model": case.model,
                        "quant": case.quant + (f"+head:{case.head_format}" if case.head_format else ""), "metric": row.metric,
                        "group": row.spec.group, "measured": row.value, "source": row.source,
                        "prompt_tokens": row.prompt_tokens,
                        "predicted": to_metric(row, seconds), "mode": mode})
    return add_errors(pd.DataFrame.from_records(records))


def calibrated_hardware(calibration: Calibration) -> Callable[[Case], HardwareSpec]:
    """The preset with `calibration` applied for the row's runtime (the simulator picks the row's
    weight-format fraction). A kernel-timing row also pays the benchmark harness's time per call
    that the fit found for the device (a property of the measurement, not of the hardware, so it
    is not in the preset)."""
    def hardware_for(case: Case) -> HardwareSpec:
        hardware = apply_calibration(case_hardware(case.hardware), calibration, runtime=case.runtime)
        own = calibration.preset_fit(case.hardware, case.runtime)
        if case.row.spec.group == "kernel" and own is not None and own.kernel_overhead_s is not None:
            hardware = with_launch(hardware, own.kernel_overhead_s)
        return hardware
    return hardware_for


def validate(cases: list[Case], *, engine: str = "roofline", calibration: Calibration | None = None,
             held_out: bool = False, fitter: Fitter | None = None, fit_engine: str = "roofline"):
    """Predictions (by `engine`) under `preset`, `calibrated` (the given calibration, or an
    in-sample fit) and, with held_out, leave-one-device-out: each device predicted from a fit
    (solved with `fit_engine`) that never saw its rows. Returns (frame, fitted calibration or None)."""
    import pandas as pd

    frames = [predict_rows(cases, lambda c: case_hardware(c.hardware), "preset", engine)]
    fitted = None
    if calibration is None or held_out:
        fitter = fitter or Fitter(cases, fit_engine)
        fitted = fitter.fit()
    frames.append(predict_rows(cases, calibrated_hardware(calibration or fitted), "calibrated", engine))
    if held_out:
        for device in sorted({c.hardware for c in cases}):
            without = fitter.fit(exclude=(device,))
            own = [c for c in cases if c.hardware == device]
            frames.append(predict_rows(own, calibrated_hardware(without), "held_out", engine))
    return pd.concat(frames, ignore_index=True), fitted
