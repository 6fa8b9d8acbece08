"""Derived figures of a model spec, as `hwsim show` and `hwsim list` print them."""

from __future__ import annotations

from hwsim.spec.model import ModelSpec
from hwsim.workload import schedule, weights


def model_figures(model: ModelSpec, loop_count: int | None = None) -> dict[str, float]:
    """Parameter counts, bytes and per-token figures, in SI units."""
    table = weights.weight_table(model)
    total = table.num_params
    expert_params = sum(t.num_elements for t in table.tensors if t.expert_id is not None)
    active = total - expert_params
    if model.moe is not None:
        active += expert_params * model.moe.top_k / model.moe.num_experts
    loops = model.loop.count if loop_count is None else loop_count
    return {
        "params_unique": float(total),
        "params_active": float(active),
        "params_executed_per_token": weights.matmul_weight_elements_per_token(model, loops),
        "weight_bytes": weights.unique_weight_bytes(model),
        "weight_bits_average": 8 * weights.unique_weight_bytes(model) / total,
        "kv_bytes_per_token": weights.kv_bytes_per_token(model, loops),
        "layer_applications_per_token": float(schedule.layer_applications(model, loops)),
        "physical_layers": float(schedule.num_physical_layers(model)),
        "loop_count": float(loops),
        "matmul_flops_per_token": 2 * weights.matmul_weight_elements_per_token(model, loops),
    }
