"""Simulate the workload of a measured row and return the figure in the row's metric.

pp512 is a prefill of 512 tokens (tokens/s = batch x 512 / ttft); tg128 is a decode of 128
tokens from the stated context, or from the context the runtime's graph is compiled for where the
mapping's `contexts` rules give one (tokens/s = batch / tpot); TTFT and TPOT are read directly;
output / end-to-end tokens/s are batch x generated tokens over the whole run. A GEMM kernel row
is costed as one matmul op on the matrix engine.
"""

from __future__ import annotations

from functools import lru_cache

from hwsim.spec.hardware import HardwareSpec
from hwsim.spec.loader import load_hardware, load_model
from hwsim.spec.model import ModelSpec
from hwsim.spec.variants import configure_model
from hwsim.validation.mapping import GEMM_SHAPE, Case
from hwsim.validation.measured import MeasuredRow


@lru_cache(maxsize=None)
def case_model(model: str, quant: str, head_format: str | None = None) -> ModelSpec:
    return configure_model(load_model(model), quant=quant, head_format=head_format)


def model_for(case: Case) -> ModelSpec:
    """The model a measured row ran: its preset in the row's quantisation (and head format)."""
    return case_model(case.model, case.quant, case.head_format)


@lru_cache(maxsize=None)
def case_hardware(name: str) -> HardwareSpec:
    return load_hardware(name, calibrated=False)


def predict_seconds(case: Case, hardware: HardwareSpec, engine: str = "roofline") -> float:
    """The simulated figure as a time (see MeasuredRow.seconds): larger is slower."""
    row = case.row
    if row.spec.group == "kernel":
        return _gemm_seconds(row, hardware)
    prompt = max(row.prompt_tokens, case.decode_context) if row.spec.group == "decode" else row.prompt_tokens
    totals = simulated_totals(model_for(case), hardware, engine, phase=row.spec.phase,
                              prompt_len=prompt,
                              gen_len=row.gen_tokens if row.spec.phase != "prefill" else 0, batch=row.batch)
    if row.metric == "pp_tokens_per_s":
        return totals["ttft_s"] / (row.batch * row.prompt_tokens)
    if row.metric == "ttft_ms":
        return totals["ttft_s"]
    if row.spec.group == "decode":
        seconds_per_step = totals["tpot_s"]
        return seconds_per_step / row.batch if row.spec.throughput else seconds_per_step
    return totals["latency_s"] / (row.batch * row.gen_tokens)


def simulated_totals(model: ModelSpec, hardware: HardwareSpec, engine: str, **run) -> dict:
    """SimResult totals from the discrete-event engine (`des`), or from the closed-form roofline
    (`roofline`, hwsim.cost.closed_form: the same op costs without event scheduling, about a
    millisecond per run once the traces are cached, which is what makes the calibration's
    hundreds of solves affordable)."""
    if engine == "roofline":
        from hwsim.sim import roofline_totals

        return roofline_totals(model, hardware, **run)
    from hwsim.sim import simulate

    return simulate(model, hardware, engine=engine, **run).totals


def to_metric(row: MeasuredRow, seconds: float) -> float:
    """A time from predict_seconds back in the row's unit (tokens/s or ms)."""
    return 1.0 / seconds if row.spec.throughput else seconds / row.spec.unit_s


def _gemm_seconds(row: MeasuredRow, hardware: HardwareSpec) -> float:
    """One fp16 GEMM (M, N, K parsed from the model string) through the roofline op cost."""
    from hwsim.cost.op_cost import op_times
    from hwsim.spec.quant import quant_preset
    from hwsim.workload import trace as T

    m, n, k = (int(g) for g in GEMM_SHAPE.search(row.model).groups())
    bits = 16.0
    record = {T.OP_ID: 0, T.PHASE: "prefill", T.LAYER: 0, T.BLOCK_ID: "gemm", T.LOOP_ITER: -1,
              T.OP_KIND: "matmul", T.NAME: "gemm", T.M: m, T.N: n, T.K: k, T.FLOPS: 2.0 * m * n * k,
              T.WEIGHT_ID: "gemm.w", T.WEIGHT_BYTES: n * k * bits / 8, T.ACT_IN_BYTES: m * k * bits / 8,
              T.ACT_OUT_BYTES: m * n * bits / 8, T.KV_READ_BYTES: 0.0, T.KV_WRITE_BYTES: 0.0,
              T.WEIGHT_BITS: bits, T.ACT_BITS: bits, T.KV_BITS: bits, T.EXPERT_ID: None,
              T.TOKENS_ACTIVE: m, T.TOKEN_STEP: 0}
    return float(op_times(T.from_records([record]), hardware, quant=quant_preset("fp16"))["bound_s"].iloc[0])
