"""`hwsim validate capture`: a captured trace against `build_trace`, per layer application.

The captured run decides which physical layer runs when (its module hooks); that sequence
must equal the layer steps of `schedule.expand` exactly (a loop count off by one fails here),
and then each (layer, loop iteration) group and the model-level rest must agree within
`TOLERANCE` on: weight-matmul FLOPs, executed weight bytes (every use of a weight counts),
K/V bytes written and read, and attention FLOPs (Q.K^T + P.V); over the whole model also unique
weight bytes (each weight identity once: a tied head untied fails here) and KV cache slots.
Vector-op FLOPs are not compared: their per-element conventions differ (docs/traces.md).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from hwsim.capture.convert import to_trace
from hwsim.capture.record import Capture, capture
from hwsim.errors import ConfigError
from hwsim.spec.loader import MODELS_DIR, REPO_ROOT
from hwsim.spec.model import ModelSpec
from hwsim.spec.variants import configure_model
from hwsim.workload import trace as T
from hwsim.workload.schedule import expand
from hwsim.workload.transformer import build_trace
from hwsim.workload.weights import kv_cache_slots_per_token, unique_weight_bytes

TOLERANCE = 0.01
HF_CONFIGS_DIR = REPO_ROOT / "workloads" / "hf"   # <preset>.json: the published config.json
QUANTITIES = ("matmul_flops", "weight_bytes", "kv_write_bytes", "kv_read_bytes", "attn_flops")
_MODEL_GROUP = (-1, -1)   # embeddings, LM head, loop-level and other model-level ops


def presets_with_config() -> list[str]:
    """Presets that have a published config (a config waiting for its preset is skipped)."""
    return sorted(p.stem for p in HF_CONFIGS_DIR.glob("*.json") if (MODELS_DIR / f"{p.stem}.yaml").exists())


def read_config(path: Path | str) -> dict:
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the Hugging Face config ({exc})") from None


def group_sums(frame: pd.DataFrame, keys: list[tuple[int, int]]) -> pd.DataFrame:
    """Per-row group key -> the compared quantities summed per group."""
    kinds = frame[T.OP_KIND].astype(str)
    weighted = frame[T.WEIGHT_ID].astype(str) != ""
    gemm = kinds.isin(T.GEMM_KINDS)
    values = pd.DataFrame({
        "group": keys,
        "matmul_flops": np.where(gemm & weighted, frame[T.FLOPS], 0.0),
        "weight_bytes": np.where(weighted, frame[T.WEIGHT_BYTES], 0.0),
        "kv_write_bytes": frame[T.KV_WRITE_BYTES].to_numpy(float),
        "kv_read_bytes": frame[T.KV_READ_BYTES].to_numpy(float),
        "attn_flops": np.where(kinds.isin(["attn_score", "attn_value"]), frame[T.FLOPS], 0.0),
    })
    return values.groupby("group", sort=False)[list(QUANTITIES)].sum()


@dataclass
class Comparison:
    """One model and phase: totals on both sides and every disagreement found."""

    model: str
    phase: str
    applications: tuple[int, int]
    captured: dict[str, float]
    built: dict[str, float]
    problems: list[str] = field(default_factory=list)
    worst: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems


def _relative(a: float, b: float) -> float:
    return 0.0 if abs(a - b) <= 1.0 else abs(a - b) / max(abs(a), abs(b))


def compare(model: ModelSpec, config: dict, phase: str, *, batch: int = 1, context_len: int = 64,
            source: str = "config") -> Comparison:
    """Capture `config` and build `model`'s trace for the same phase and shape, and compare.
    The model is compared at bf16, the dtype the capture builds the transformers model in."""
    model = configure_model(model, quant="bf16")
    seq_len = model.task.seq_len + model.task.prefix_tokens if model.task else None
    loops = model.loop.count if model.is_looped else None
    cap = capture(config, phase, batch, context_len, seq_len=seq_len, source=source)
    built = build_trace(model, phase, batch, context_len, loops=loops)
    steps = [(s.layer, s.loop_iter) for s in expand(model, loops) if s.kind == "layer"]
    result = Comparison(model.name, phase, (len(cap.applications), len(steps)), {}, {})
    built_layers = [layer for layer, _ in steps]
    if cap.applications != built_layers:
        first = next((i for i, (a, b) in enumerate(zip(cap.applications, built_layers)) if a != b),
                     min(len(cap.applications), len(built_layers)))
        result.problems.append(f"schedule: the model code runs {len(cap.applications)} layer applications, "
                               f"the hwsim schedule {len(built_layers)}; first difference at application {first}")
    captured = _captured_groups(cap, steps)
    hw_keys = [(int(layer), int(it)) if layer >= 0 else _MODEL_GROUP
               for layer, it in zip(built[T.LAYER], built[T.LOOP_ITER])]
    hw = group_sums(built, hw_keys)
    result.captured = {q: float(captured[q].sum()) for q in QUANTITIES}
    result.built = {q: float(hw[q].sum()) for q in QUANTITIES}
    result.captured["unique_weight_bytes"] = sum(cap.parameter_bytes.values())
    result.built["unique_weight_bytes"] = unique_weight_bytes(model)
    result.captured["kv_slots"] = float(len(cap.kv_slots))
    result.built["kv_slots"] = float(kv_cache_slots_per_token(model, loops))
    for key in ("unique_weight_bytes", "kv_slots"):
        error = _relative(result.captured[key], result.built[key])
        result.worst = max(result.worst, error)
        if error > TOLERANCE:
            result.problems.append(f"{key}: captured {result.captured[key]:,.0f}, hwsim {result.built[key]:,.0f}")
    if not result.problems:   # same schedule: compare group by group
        for group in dict.fromkeys(list(hw.index) + list(captured.index)):
            for q in QUANTITIES:
                a = float(captured[q].get(group, 0.0))
                b = float(hw[q].get(group, 0.0))
                error = _relative(a, b)
                result.worst = max(result.worst, error)
                if error > TOLERANCE and len(result.problems) < 5:
                    where = "model-level ops" if group == _MODEL_GROUP else f"layer {group[0]} iteration {group[1]}"
                    result.problems.append(f"{where}: {q} captured {a:,.0f}, hwsim {b:,.0f} ({error:.1%})")
    return result


def _captured_groups(cap: Capture, steps: list[tuple[int, int]]) -> pd.DataFrame:
    """Captured rows grouped like the built ones: application i is schedule step i."""
    frame = to_trace(cap)
    keys = []
    for op in cap.ops:
        if op.application < 0 or op.application >= len(steps):
            keys.append(_MODEL_GROUP if op.application < 0 else (op.layer, -2))
        else:
            keys.append(steps[op.application])
    return group_sums(frame, keys)


def table(results: list[Comparison]) -> str:
    """The per-model comparison table: captured / hwsim for each quantity, worst error."""
    def pair(r: Comparison, key: str, scale: float, digits: int = 2) -> str:
        return f"{r.captured.get(key, 0) / scale:,.{digits}f} / {r.built.get(key, 0) / scale:,.{digits}f}"

    rows = [{
        "model": r.model, "phase": r.phase,
        "layer apps": f"{r.applications[0]} / {r.applications[1]}",
        "matmul GFLOP": pair(r, "matmul_flops", 1e9),
        "attn MFLOP": pair(r, "attn_flops", 1e6, 1),
        "unique weights MB": pair(r, "unique_weight_bytes", 1e6, 1),
        "executed weights MB": pair(r, "weight_bytes", 1e6, 1),
        "KV written kB": pair(r, "kv_write_bytes", 1e3, 1),
        "KV read kB": pair(r, "kv_read_bytes", 1e3, 1),
        "KV slots": f"{r.captured.get('kv_slots', 0):.0f} / {r.built.get('kv_slots', 0):.0f}",
        "worst": f"{r.worst:.2%}",
        "verdict": "ok" if r.ok else "FAIL",
    } for r in results]
    return pd.DataFrame(rows).to_string(index=False)
