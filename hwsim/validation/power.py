"""Energy and power against measured board watts: the `energy_j_per_token` rows of the measured
CSV (peak wall power over decode tokens/s), mapped by validation/power_mapping.yaml.

Each row's decode run is simulated on the calibrated preset (the stored speed calibration, so
the time per token is the calibrated one). Predicted running power is linear in the one fitted
number, the active share a of (tdp - idle) (hwsim.cost.energy.active_power_w):

    P = idle + E_actions / t + a (tdp - idle)

so `a` has a closed-form least-squares fit on relative error. The held-out figure predicts each
device's rows from `a` fitted on the other devices only (leave one device out).

A preset whose TDP was read off the same measurements (`circular_tdp` in the mapping, with the
reason) says nothing independent: its rows are printed but left out of every fit and of the
MAPE, and the reason is printed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hwsim.errors import ConfigError
from hwsim.spec.loader import REPO_ROOT, read_document

POWER_MAPPING_PATH = REPO_ROOT / "validation" / "power_mapping.yaml"
ENERGY_METRIC = "energy_j_per_token"


@dataclass(frozen=True)
class PowerCase:
    """One measured energy row with its paired speed row and the simulated decode run."""

    id: str
    preset: str
    model: str
    measured_j_per_token: float
    measured_tokens_per_s: float
    predicted_tokens_per_s: float
    base_w: float       # idle + action energies / time
    headroom_w: float   # tdp - idle: what the active share multiplies
    circular: str | None = None   # why the preset's TDP is not independent of this row (excluded)

    @property
    def measured_w(self) -> float:
        return self.measured_j_per_token * self.measured_tokens_per_s

    def predicted_w(self, share: float) -> float:
        return self.base_w + share * self.headroom_w


def load_power_mapping(path: Path | str | None = None) -> dict[str, dict]:
    path = Path(path or POWER_MAPPING_PATH)
    rows = read_document(path).get("rows")
    if not isinstance(rows, dict):
        raise ConfigError(f"{path.name}: rows: expected a mapping of energy row id -> preset entry")
    for row_id, entry in rows.items():
        if not isinstance(entry, dict) or "preset" not in entry:
            raise ConfigError(f"{path.name}: rows.{row_id}: needs preset (or preset: null with a note)")
        if entry["preset"] is not None and not all(entry.get(k) for k in ("model", "quant", "tg")):
            raise ConfigError(f"{path.name}: rows.{row_id}: needs model, quant and tg")
    return rows


def circular_presets(path: Path | str | None = None) -> dict[str, str]:
    """Preset -> why its TDP is not independent of the measured power rows (`circular_tdp`)."""
    path = Path(path or POWER_MAPPING_PATH)
    circular = read_document(path).get("circular_tdp") or {}
    if not isinstance(circular, dict) or not all(isinstance(v, str) and v for v in circular.values()):
        raise ConfigError(f"{path.name}: circular_tdp: expected a mapping of preset -> reason")
    return circular


def power_cases(frame, mapping: dict[str, dict], calibration: dict | None, engine: str = "roofline",
                circular: dict[str, str] | None = None):
    """(cases, unmapped [(id, reason)]) for every energy row of the measured frame; `circular`
    marks the rows of presets whose TDP came from these measurements."""
    from hwsim.calibration import apply_calibration
    from hwsim.validation.predict import case_hardware, case_model, simulated_totals

    by_id = {r["id"]: r for r in frame.to_dict("records")}
    cases, unmapped = [], []
    for record in by_id.values():
        if record["metric"].strip() != ENERGY_METRIC:
            continue
        entry = mapping.get(record["id"])
        if entry is None or entry["preset"] is None:
            unmapped.append((record["id"], entry["note"] if entry else "not in validation/power_mapping.yaml"))
            continue
        tg = by_id.get(entry["tg"])
        if tg is None:
            unmapped.append((record["id"], f"paired speed row {entry['tg']!r} is not in the CSV"))
            continue
        hardware = apply_calibration(case_hardware(entry["preset"]), calibration)
        prompt = int(float(tg["prompt_tokens"] or 0))
        totals = simulated_totals(case_model(entry["model"], entry["quant"]), hardware, engine, phase="decode",
                                  prompt_len=max(prompt, 1), gen_len=int(float(tg["gen_tokens"] or 0)) or 128, batch=1)
        seconds = totals["latency_s"]
        action_j = totals["energy_j"] - totals["energy_static_j"]
        power = hardware.power
        cases.append(PowerCase(
            id=record["id"], preset=entry["preset"], model=entry["model"],
            measured_j_per_token=float(record["value"]), measured_tokens_per_s=float(tg["value"]),
            predicted_tokens_per_s=1.0 / totals["tpot_s"],
            base_w=power.idle_w + action_j / seconds,
            headroom_w=max((power.tdp_w or power.idle_w) - power.idle_w, 0.0),
            circular=(circular or {}).get(entry["preset"])))
    return cases, unmapped


def fit_share(cases: list[PowerCase]) -> float:
    """Least squares on relative error: min sum((base + a headroom - m) / m)^2, a in [0, 1]."""
    num = sum(c.headroom_w / c.measured_w * (1 - c.base_w / c.measured_w) for c in cases)
    den = sum((c.headroom_w / c.measured_w) ** 2 for c in cases)
    return min(max(num / den, 0.0), 1.0) if den > 0 else 0.0


def power_frame(cases: list[PowerCase]):
    """One record per case and metric (board_w, energy_j_per_token) under `fitted` (in-sample)
    and `held_out` (share fitted without the case's device); the shares are fitted on the rows
    with an independent TDP only (`circular` column: the exclusion reason, else None)."""
    import pandas as pd

    fit = [c for c in cases if c.circular is None]
    shares = {"fitted": {c.preset: fit_share(fit) for c in cases}}
    shares["held_out"] = {d: fit_share([c for c in fit if c.preset != d]) for d in {c.preset for c in cases}}
    records = []
    for mode, by_device in shares.items():
        for c in cases:
            watts = c.predicted_w(by_device[c.preset])
            for metric, measured, predicted in (("board_w", c.measured_w, watts),
                                                (ENERGY_METRIC, c.measured_j_per_token, watts / c.predicted_tokens_per_s)):
                records.append({"id": c.id, "preset": c.preset, "metric": metric, "mode": mode, "circular": c.circular,
                                "share": by_device[c.preset], "measured": measured, "predicted": predicted,
                                "error_pct": 100 * (predicted - measured) / measured})
    return pd.DataFrame.from_records(records)


def power_report(csv_frame, calibration: dict | None, mapping_path: Path | str | None = None,
                 engine: str = "roofline") -> str:
    """The text `hwsim validate measured` prints: per-row figures (held out), MAPE per metric
    and mode over the rows with an independent TDP, the fitted active share, the rows left out
    as circular and the unmapped energy rows, each with its reason. `engine` makes the
    predictions (the one the command uses)."""
    from hwsim.validation.report import format_table

    circular = circular_presets(mapping_path)
    cases, unmapped = power_cases(csv_frame, load_power_mapping(mapping_path), calibration, engine, circular)
    independent = [c for c in cases if c.circular is None]
    lines = [f"Energy / power vs measured board watts (validation/power_mapping.yaml, engine {engine}):"]
    if len({c.preset for c in independent}) < 2:
        lines.append(f"  {len(independent)} mapped energy rows with an independent TDP: too few devices for a held-out fit")
    else:
        frame = power_frame(cases)
        held = frame[frame["mode"] == "held_out"]
        rows = held.pivot_table(index=["id", "preset"], columns="metric", values=["measured", "predicted", "error_pct"])
        table = [[i + (" (circular, excluded)" if p in circular else ""), p, f"{r[('measured', 'board_w')]:.1f}",
                  f"{r[('predicted', 'board_w')]:.1f}", f"{r[('error_pct', 'board_w')]:+.0f}%",
                  f"{r[('measured', ENERGY_METRIC)]:.3f}", f"{r[('predicted', ENERGY_METRIC)]:.3f}",
                  f"{r[('error_pct', ENERGY_METRIC)]:+.0f}%"]
                 for (i, p), r in rows.iterrows()]
        lines.append(format_table(_frame(["row", "preset", "W meas", "W pred (held out)", "W err",
                                          "J/tok meas", "J/tok pred (held out)", "J/tok err"], table)))
        scored = frame[frame["circular"].isna()]
        mape = scored.assign(ape=scored["error_pct"].abs()).groupby(["metric", "mode"])["ape"].agg(["mean", "count"])
        devices = sorted({c.preset for c in independent})
        lines.append(f"\nEnergy/power MAPE on the {len(independent)} rows of {len(devices)} devices with an independent "
                     f"TDP ({', '.join(devices)}; held out = active share fitted without the row's device):")
        lines.append(format_table(_frame(["metric", "mode", "MAPE %", "rows"],
                                         [[m, mode, f"{r['mean']:.1f}", int(r["count"])] for (m, mode), r in mape.iterrows()])))
        lines.append(f"active share of (tdp - idle), fitted on those {len(independent)} rows: {fit_share(independent):.3f}")
    left_out = [c for c in cases if c.circular is not None]
    if left_out:
        lines.append(f"{len(left_out)} rows left out of the fits and the MAPE (circular TDP):")
        for preset in dict.fromkeys(c.preset for c in left_out):
            lines.append(f"  {preset} ({sum(c.preset == preset for c in left_out)} rows): {circular[preset]}")
    lines.append(f"{len(unmapped)} energy rows unmapped:")
    lines += [f"  {row_id}: {reason}" for row_id, reason in unmapped]
    return "\n".join(lines)


def _frame(columns, rows):
    import pandas as pd

    return pd.DataFrame(rows, columns=columns)
