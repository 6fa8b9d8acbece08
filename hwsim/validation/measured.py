"""Measured-results CSV: the columns it must have and what each metric means.

A row is one published figure (llama.cpp pp512 / tg128, TensorRT-LLM TTFT, a GEMM kernel time),
with the workload it was measured on (model, quant, batch, prompt and generated tokens) and its
source. Metrics are converted to SI here, once: a latency in ms becomes seconds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from hwsim.errors import ConfigError

REQUIRED_COLUMNS = ("id", "source", "hardware", "model", "quant", "batch", "prompt_tokens",
                    "gen_tokens", "metric", "value", "unit")

# Generated tokens assumed when a decode row does not state them (Jetson, Ollama, RKLLM pages):
# llama-bench's default tg128.
DEFAULT_GEN_TOKENS = 128


@dataclass(frozen=True)
class Metric:
    """How a measured figure relates to the simulator's totals.

    `group` says which efficiency it informs (decode -> DRAM bandwidth, prefill -> compute);
    `throughput` metrics are tokens per second, the others are latencies in `unit_s` seconds.
    """

    name: str
    group: str
    phase: str
    throughput: bool
    unit_s: float = 1.0


METRICS: dict[str, Metric] = {m.name: m for m in [
    Metric("tg_tokens_per_s", "decode", "decode", True),
    Metric("tpot_ms", "decode", "decode", False, 1e-3),
    Metric("pp_tokens_per_s", "prefill", "prefill", True),
    Metric("ttft_ms", "prefill", "prefill", False, 1e-3),
    Metric("output_tokens_per_s", "e2e", "e2e", True),
    Metric("e2e_tokens_per_s", "e2e", "e2e", True),
    Metric("kernel_latency_ms", "kernel", "kernel", False, 1e-3),
]}


# Power and energy rows are carried in the CSV for the chip power model, which validates them.
POWER_METRICS = ("energy_j_per_token", "power_w")
POWER_REASON = "power rows: validated by the power model"


@dataclass(frozen=True)
class MeasuredRow:
    """One row of the CSV with the workload made explicit (missing token counts filled in)."""

    id: str
    hardware: str
    model: str
    quant: str
    metric: str
    value: float
    batch: int
    prompt_tokens: int
    gen_tokens: int
    source: str

    @property
    def spec(self) -> Metric:
        return METRICS[self.metric]

    @property
    def seconds(self) -> float:
        """The figure as a time: seconds per token for throughputs, the latency otherwise.
        Larger always means slower, which is what the calibration solves against."""
        return 1.0 / self.value if self.spec.throughput else self.value * self.spec.unit_s


def load_measured(path: Path | str):
    """Read a measured-results CSV; a file missing columns raises one ConfigError naming them."""
    import pandas as pd

    path = Path(path)
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not a readable CSV: {' '.join(str(exc).split())}") from None
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise ConfigError(f"{path}: missing columns: {', '.join(missing)}")
    return frame


def parse_row(record: dict[str, str]) -> MeasuredRow | str:
    """A MeasuredRow, or the reason this row cannot be simulated (unknown metric, bad number)."""
    metric = record["metric"].strip()
    if metric in POWER_METRICS:
        return POWER_REASON
    if metric not in METRICS:
        return f"metric {metric!r} is not modelled"
    try:
        value = float(record["value"])
    except ValueError:
        return f"value {record['value']!r} is not a number"
    if not math.isfinite(value) or value <= 0:
        return f"value {record['value']!r} must be a positive number"
    batch = _count(record["batch"])
    if batch is None or batch < 1:
        return f"batch {record['batch']!r} is not a positive integer"
    prompt = _count(record["prompt_tokens"])
    gen = _count(record["gen_tokens"])
    if prompt is None or gen is None:
        return "prompt_tokens / gen_tokens are not integers"
    spec = METRICS[metric]
    if spec.group == "prefill" and prompt < 1:
        return "a prefill metric needs prompt_tokens >= 1"
    if spec.group in ("decode", "e2e") and gen < 1:
        gen = DEFAULT_GEN_TOKENS
    if spec.group == "e2e" and prompt < 1:
        prompt = 1  # an end-to-end run with no stated prompt: one prompt token
    return MeasuredRow(id=record["id"], hardware=record["hardware"], model=record["model"],
                       quant=record["quant"], metric=metric, value=value, batch=batch,
                       prompt_tokens=prompt, gen_tokens=gen, source=record["source"])


def _count(text: str) -> int | None:
    """'512', '512.0' -> 512; '' -> 0 (not stated); anything else -> None."""
    text = text.strip()
    if not text:
        return 0
    try:
        number = float(text)
    except ValueError:
        return None
    if not math.isfinite(number) or number != int(number):
        return None
    return int(number)
