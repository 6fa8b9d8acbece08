"""The reference executor: runs a ModelSpec numerically in float32 NumPy.

It walks `hwsim.workload.schedule.expand` (the single definition of loop semantics, shared with
the trace builder) and looks every weight up by its `weight_id` in the weight table, so a block
run T times multiplies by the same array T times. Semantics per step:

- layer: norms where `model.norm_slots` puts them (pre-norm; sandwich: also on each branch
  output before the residual add, as Ouro; post_residual: after each residual add, as
  BERT/ALBERT and TRM/HRM, with Huginn's SandwichBlock adding pre-norms on the branch inputs);
  GQA attention with RoPE at `rope_theta`, optional q/k bias (Huginn), q/k norm (OLMoE) and
  sigmoid output gate (HRM-Text);
  SwiGLU / GELU MLP or MoE (router softmax, top-k weights renormalised when
  `normalize_top_k`, shared experts). Every norm uses `norm_eps`. Causal attention reads and extends a KV cache keyed by (layer, iteration,
  run within the iteration) under `per_loop`, by layer under `shared` (written by the last iteration a token runs).
- embeddings are multiplied by `embedding_scale` (Huginn, TRM, HRM: sqrt(h)).
- inject `adapter` (Huginn): on entering the loop the state starts random: truncated normal
  (cut at 3 std) with std sqrt(2 / (5 h)) x `embedding_scale`, as Huginn's initialize_state,
  seeded by the token position so a recomputation draws the same state; every iteration then
  runs Linear(2h -> h) on [state, e], e being the hidden state that entered the loop.
- inject `add` (TRM/HRM): state <- state + e (input injection of the loop's entry state).
- loop_norm (Ouro): the final norm applied to the state after every iteration.
- final_norm (a schedule item; Huginn's ln_f before the coda): the final norm's weights applied
  at that point, besides the final norm before the head.
- exit_gate (Ouro, UT): lambda_t = sigmoid(gate(state)); the exit probability of iteration t is
  p_t = lambda_t * prod_{j<t} (1 - lambda_j), the last iteration taking the remaining mass.
  With `halting="act"` (Universal Transformer ACT) a token halts at the first iteration where
  the cumulative probability reaches 1 - ACT_EPSILON, that iteration takes the remainder, and
  the output is the p-weighted sum of the per-iteration states.
- `exit_threshold` (Huginn): a token has converged at iteration t when
  ||s_t - s_{t-1}|| / ||s_t|| < threshold; once every token of the call has converged the loop
  stops (the whole batch runs to its deepest token), and each token's exit iteration is kept.

Every op reports one row to an optional TraceRecorder as it runs, with the names and order of
`build_trace`, which is what `hwsim validate reference` compares.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hwsim import units
from hwsim.errors import ConfigError
from hwsim.reference import layers
from hwsim.reference.recorder import TraceRecorder, Where
from hwsim.reference.weights import ReferenceWeights, random_weights
from hwsim.spec.model import ModelSpec
from hwsim.workload.schedule import Step, expand, loop_repeat
from hwsim.workload.transformer import FLOPS_PER_ELEMENT
from hwsim.workload.weights import lm_head_tensor, weight_table

ACT_EPSILON = 0.01          # ACT halting threshold 1 - eps (Graves 2016, arXiv 1603.08983)
# Huginn's initial state (recpre/raven_modeling_minimal.py initialize_state, init_values std):
# truncated normal, std sqrt(2 / (5 h)) times the embedding scale, cut at 3 std.
INITIAL_STATE_TRUNCATION = 3.0
_LOOP_BLOCK = "loop"


@dataclass(frozen=True)
class ExitStats:
    """Per-token loop exit statistics of one executor call (tokens = batch x positions)."""

    exit_probs: np.ndarray | None   # (batch, tokens, T): p_t of the exit gate (None without one)
    exit_iter: np.ndarray           # (batch, tokens): 1-based iteration each token exited at
    loop_count: int


class ReferenceExecutor:
    """Runs prefill / decode / task forwards of one model with a KV cache between calls."""

    def __init__(self, model: ModelSpec, weights: ReferenceWeights | None = None, *, loops: int | None = None,
                 seed: int = 0, exit_threshold: float | None = None, halting: str = "none"):
        _check_supported(model, halting, exit_threshold)
        self.model = model
        self.weights = weights if weights is not None else random_weights(model, seed)
        self.tensors = weight_table(model).by_id()
        self.loop_count = loops if loops is not None else model.loop.count
        self.steps = expand(model, self.loop_count)
        # A layer run several times within one loop iteration (HRM-Text's L stack, L_cycles
        # times) keeps one KV slot per run: its ordinal among the steps with that (layer, iteration).
        seen: dict[tuple[int, int], int] = {}
        self.occurrences = []
        for step in self.steps:
            self.occurrences.append(seen.get((step.layer, step.loop_iter), 0))
            seen[(step.layer, step.loop_iter)] = self.occurrences[-1] + 1
        self.occurrence = 0
        self.seed = seed
        self.exit_threshold = exit_threshold
        self.halting = halting
        self.exit_stats: ExitStats | None = None
        self.routing_log: list[np.ndarray] = []          # experts chosen per MoE application
        self.replay_routing: list[np.ndarray] | None = None
        self.rec: TraceRecorder | None = None
        self.reset()

    def reset(self) -> None:
        self.cache: dict[tuple[int, int, int], tuple[np.ndarray, np.ndarray]] = {}
        self.length = 0

    # -- public entry points ----------------------------------------------------------------
    def prefill(self, tokens: np.ndarray, recorder: TraceRecorder | None = None) -> np.ndarray:
        """Whole prompts (batch, tokens) from an empty cache; logits of the last prompt token
        (batch, vocab). A non-causal task model runs its one forward and returns logits of
        every position (batch, tokens, vocab)."""
        tokens = np.atleast_2d(np.asarray(tokens))
        self.reset()
        logits = self._forward(tokens, np.arange(tokens.shape[1]), recorder)
        return logits if self.model.task is not None else logits[:, -1]

    def decode(self, tokens: np.ndarray, recorder: TraceRecorder | None = None) -> np.ndarray:
        """One new token per sequence (batch,) at the current cache length -> (batch, vocab)."""
        if not self.model.has_decode:
            raise ConfigError(f"model {self.model.name} has no decode phase (non-causal or no LM head)")
        tokens = np.asarray(tokens).reshape(-1, 1)
        return self._forward(tokens, np.array([self.length]), recorder)[:, -1]

    # -- the walk over the schedule ---------------------------------------------------------
    def _forward(self, tokens: np.ndarray, positions: np.ndarray, rec: TraceRecorder | None) -> np.ndarray:
        self.rec = rec
        model = self.model
        prefix = model.task.prefix_tokens if model.task is not None else 0
        positions = positions[0] + np.arange(tokens.shape[1] + prefix)
        h = self._embed(tokens, positions)
        self.pending_kv: dict[tuple[int, int, int], tuple] = {}
        entry = previous = None
        count = self.loop_count
        exit_iter = np.full(h.shape[:2], count, dtype=np.int64)
        has_gate = any(s.kind == "exit_gate" for s in self.steps)
        exit_probs = np.zeros(h.shape[:2] + (count,), np.float32) if has_gate else None
        survive = np.ones(h.shape[:2], np.float32)
        weighted = np.zeros_like(h) if self.halting == "act" else None
        stopped_after = None
        for index, step in enumerate(self.steps):
            if step.loop_iter >= 0 and stopped_after is not None:
                continue
            if step.loop_iter >= 0 and entry is None:
                entry = h
                if any(s.inject == "adapter" for s in self.steps):
                    h = self._initial_state(h.shape, positions)
            self._at(step)
            self.occurrence = self.occurrences[index]
            if step.kind == "layer":
                h = self._layer(h, step, positions)
            elif step.kind == "inject":
                h = self._inject(h, entry, step.inject)
            elif step.kind == "loop_norm":
                h = self._norm(h, "final_norm", "loop_norm")
            elif step.kind == "final_norm":
                h = self._norm(h, "final_norm", "final_norm")
            else:
                lam = self._exit_gate(h)
                last = step.loop_iter == count - 1
                p = survive if last else lam * survive
                if self.halting == "act":
                    halting_now = (1.0 - (survive - p) >= 1.0 - ACT_EPSILON) & (exit_iter == count)
                    p = np.where(halting_now | last, survive, p)
                    exit_iter = np.where(halting_now, step.loop_iter + 1, exit_iter)
                    weighted = weighted + p[..., None] * h
                exit_probs[..., step.loop_iter] = p
                survive = survive - p
            if self._ends_iteration(index):
                if self.exit_threshold is not None and previous is not None:
                    change = np.linalg.norm(h - previous, axis=-1) / np.maximum(np.linalg.norm(h, axis=-1), 1e-30)
                    converged = (change < self.exit_threshold) & (exit_iter == count)
                    exit_iter = np.where(converged, step.loop_iter + 1, exit_iter)
                    if (exit_iter <= step.loop_iter + 1).all():
                        stopped_after = step.loop_iter
                previous = h
        if self.halting == "act":
            h = weighted
        self.exit_stats = ExitStats(exit_probs, exit_iter, count)
        self._commit_shared_kv()
        self.length += tokens.shape[1]
        if self.rec is not None:
            self.rec.where = Where()
        return self._output(h)

    def _ends_iteration(self, index: int) -> bool:
        step = self.steps[index]
        following = self.steps[index + 1] if index + 1 < len(self.steps) else None
        return step.loop_iter >= 0 and (following is None or following.loop_iter != step.loop_iter)

    def _at(self, step: Step) -> None:
        if self.rec is not None:
            block = {"layer": step.block, "final_norm": ""}.get(step.kind, _LOOP_BLOCK)
            self.rec.where = Where(step.layer, block, step.loop_iter)

    def _initial_state(self, shape: tuple, positions: np.ndarray) -> np.ndarray:
        batch, _, width = shape
        std = np.sqrt(2.0 / (5.0 * width)) * self.model.embedding_scale
        return initial_state(self.seed, positions, batch, width, std)

    # -- recorded primitives ----------------------------------------------------------------
    def _record(self, *args, **kwargs) -> int:
        return self.rec.record(*args, **kwargs) if self.rec is not None else -1

    def _linear(self, x: np.ndarray, weight_id: str, name: str, kind: str = "matmul",
                expert_id: int | None = None, kv_write_elements: float = 0) -> tuple[np.ndarray, int]:
        param = self.weights[weight_id]
        weight = param.weight.values()
        m = _tokens(x)
        out = (x.reshape(m, x.shape[-1]) @ weight).reshape(*x.shape[:-1], weight.shape[1])  # 2-D: BLAS GEMV/GEMM
        if param.bias is not None:
            out = out + param.bias
        row = self._record(kind, name, m=m, n=weight.shape[1], k=weight.shape[0],
                           weight=self.tensors[weight_id], act_in_elements=x.size, act_out_elements=out.size,
                           kv_write_elements=kv_write_elements, tokens_active=m, expert_id=expert_id)
        return out.astype(np.float32), row

    def _vector(self, kind: str, name: str, elements: int, flops_key: str, tokens: int, weight_id: str = "") -> None:
        self._record(kind, name, flops=elements * FLOPS_PER_ELEMENT[flops_key],
                     weight=self.tensors.get(weight_id), act_in_elements=elements, act_out_elements=elements,
                     tokens_active=tokens)

    def _norm(self, x: np.ndarray, weight_id: str, name: str) -> np.ndarray:
        param = self.weights[weight_id] if weight_id in self.weights else None
        out = layers.norm(self.model.norm, x, None if param is None else param.weight.values(), self.model.norm_eps)
        self._vector("norm", name, x.size, "norm", _tokens(x), weight_id if param is not None else "")
        return out

    def _add(self, x: np.ndarray, y: np.ndarray, name: str) -> np.ndarray:
        self._vector("add", name, x.size, "add", _tokens(x))
        return x + y

    # -- model pieces -----------------------------------------------------------------------
    def _embed(self, tokens: np.ndarray, positions: np.ndarray) -> np.ndarray:
        """Sum of the lookups of every embedding table (token, learned position, token type
        0), then the embedding norm and factorised projection where the model has them."""
        model = self.model
        prefix = model.task.prefix_tokens if model.task is not None else 0
        # TRM's puzzle embedding (excluded from the weight table, as in the paper): zero rows.
        ids = np.concatenate([np.zeros((tokens.shape[0], prefix), np.int64), tokens], axis=1)
        lookups = {"embed": ids, "pos_embed": np.broadcast_to(positions, ids.shape), "type_embed": np.zeros_like(ids)}
        x = 0.0
        for tensor in self.tensors.values():
            if tensor.kind != "embedding":
                continue
            part = self.weights[tensor.weight_id].weight.values()[:, lookups[tensor.weight_id]].transpose(1, 2, 0)
            bits = tensor.bits(model)
            self._record("embed", tensor.weight_id, act_in_bytes=units.bytes_for(part.size, bits),
                         act_out_elements=part.size, tokens_active=_tokens(part), weight_bits=bits)
            x = x + part
        x = np.array(x, dtype=np.float32)
        x[:, :prefix] = 0.0
        if model.embedding_scale != 1.0:
            x = x * np.float32(model.embedding_scale)
            self._vector("scale", "embed_scale", x.size, "scale", _tokens(x))
        if "embed_norm" in self.tensors:
            x = self._norm(x, "embed_norm", "embed_norm")
        if "embed_proj" in self.tensors:
            x, _ = self._linear(x, "embed_proj", "embed_proj")
        return x

    def _layer(self, h: np.ndarray, step: Step, positions: np.ndarray) -> np.ndarray:
        slots = self.model.norm_slots
        prefix = f"{step.block}.L{step.layer}"

        def norm(x, position):
            if position not in slots:
                return x
            i = slots.index(position)
            return self._norm(x, f"{prefix}.norm{i}", f"norm{i}")

        attn = norm(self._attention(norm(h, "attn_in"), prefix, step, positions), "attn_out")
        h = norm(self._add(h, attn, "residual_attn"), "attn_residual")
        x = norm(h, "mlp_in")
        mlp = self._mlp(x, prefix, "", self.model.mlp.kind, None) if self.model.mlp else self._moe(x, prefix)
        return norm(self._add(h, norm(mlp, "mlp_out"), "residual_mlp"), "mlp_residual")

    def _attention(self, x: np.ndarray, prefix: str, step: Step, positions: np.ndarray) -> np.ndarray:
        att, causal = self.model.attention, self.model.attention.causal
        batch, tokens = x.shape[:2]
        q_out, kv_out = att.num_heads * att.head_dim, att.num_kv_heads * att.head_dim
        key = (step.layer, step.loop_iter if self.model.loop.kv_policy == "per_loop" else -1, self.occurrence)
        shared_looped = causal and step.loop_iter >= 0 and self.model.loop.kv_policy == "shared"
        writes = x.shape[0] * tokens * kv_out if causal and not shared_looped else 0
        q, _ = self._linear(x, f"{prefix}.q", "q")
        k, k_row = self._linear(x, f"{prefix}.k", "k", kv_write_elements=writes)
        v, v_row = self._linear(x, f"{prefix}.v", "v", kv_write_elements=writes)
        gate = self._linear(x, f"{prefix}.attn_gate", "attn_gate")[0] if att.output_gate else None
        m = batch * tokens
        if att.qk_bias:
            bias = self.weights[f"{prefix}.qk_bias"].weight.values()
            q, k = q + bias[:q_out], k + bias[q_out:]
            self._vector("add", "qk_bias", m * (q_out + kv_out), "add", m, f"{prefix}.qk_bias")
        if att.qk_norm != "none":
            q, k = self._qk_norm(q, k, prefix)
            self._vector("norm", "qk_norm", m * (q_out + kv_out), "norm", m, f"{prefix}.qk_norm")
        q, k, v = (layers.split_heads(t, heads) for t, heads in
                   ((q, att.num_heads), (k, att.num_kv_heads), (v, att.num_kv_heads)))
        if self.model.positional == "rope":
            theta = self.model.rope_theta
            q, k = layers.rope(q, positions, theta), layers.rope(k, positions, theta)
            self._vector("rope", "rope", m * (q_out + kv_out), "rope", m)
        past_k, past_v = self.cache.get(key, (k[:, :, :0], v[:, :, :0])) if causal else (k[:, :, :0], v[:, :, :0])
        keys_k, keys_v = np.concatenate([past_k, k], axis=2), np.concatenate([past_v, v], axis=2)
        if causal and not shared_looped:
            self.cache[key] = (keys_k, keys_v)
        elif shared_looped:
            self.pending_kv[key] = (keys_k, keys_v, k_row, v_row, batch * tokens * kv_out)
        scores = layers.attention_scores(q, keys_k)
        if causal:
            scores = scores + layers.causal_mask(positions, np.arange(keys_k.shape[2]))
        n_keys = keys_k.shape[2]
        kv_read = batch * n_keys * kv_out if causal else 0
        transient = 0 if causal else m * kv_out
        self._attn_row("attn_score", m * att.num_heads, n_keys, att.head_dim, m * q_out + transient,
                       m * att.num_heads * n_keys, kv_read, m)
        probs = layers.softmax(scores)
        self._vector("softmax", "softmax", probs.size, "softmax", m)
        context = layers.merge_heads(layers.attention_values(probs, keys_v))
        self._attn_row("attn_value", m * att.num_heads, att.head_dim, n_keys,
                       m * att.num_heads * n_keys + transient, m * q_out, kv_read, m)
        if gate is not None:
            context = context * (1.0 / (1.0 + np.exp(-gate)))
            self._vector("gate", "attn_gate_mul", context.size, "sigmoid_gate", m)
        out, _ = self._linear(context, f"{prefix}.o", "o")
        return out

    def _attn_row(self, kind, m, n, k, act_in, act_out, kv_read, tokens) -> None:
        self._record(kind, kind, m=m, n=n, k=k, act_in_elements=act_in, act_out_elements=act_out,
                     kv_read_elements=kv_read, tokens_active=tokens)

    def _qk_norm(self, q: np.ndarray, k: np.ndarray, prefix: str) -> tuple[np.ndarray, np.ndarray]:
        att, eps = self.model.attention, self.model.norm_eps
        scale = self.weights[f"{prefix}.qk_norm"].weight.values()
        if att.qk_norm == "full":
            q_out = att.num_heads * att.head_dim
            return layers.rms_norm(q, scale[:q_out], eps), layers.rms_norm(k, scale[q_out:], eps)
        d = att.head_dim
        per_head = lambda t, w: layers.rms_norm(t.reshape(*t.shape[:-1], -1, d), w, eps).reshape(t.shape)  # noqa: E731
        return per_head(q, scale[:d]), per_head(k, scale[d:])

    def _commit_shared_kv(self) -> None:
        """Shared KV: the last iteration a token ran writes its K/V to the layer's one slot."""
        for key, (keys_k, keys_v, k_row, v_row, elements) in self.pending_kv.items():
            self.cache[key] = (keys_k, keys_v)
            if self.rec is not None:
                self.rec.add_kv_write(k_row, elements)
                self.rec.add_kv_write(v_row, elements)
        self.pending_kv = {}

    def _mlp(self, x: np.ndarray, prefix: str, stem: str, kind: str, expert: int | None) -> np.ndarray:
        op_kind = "expert" if expert is not None else "matmul"
        gate = self._linear(x, f"{prefix}.{stem}gate", f"{stem}gate", op_kind, expert)[0] if kind == "swiglu" else None
        up, _ = self._linear(x, f"{prefix}.{stem}up", f"{stem}up", op_kind, expert)
        hidden = layers.silu(gate) * up if kind == "swiglu" else layers.gelu(up)
        self._vector("act", f"{stem}act", hidden.size, f"{kind}_act", _tokens(x))
        out, _ = self._linear(hidden, f"{prefix}.{stem}down", f"{stem}down", op_kind, expert)
        return out

    def _moe(self, x: np.ndarray, prefix: str) -> np.ndarray:
        moe = self.model.moe
        flat = x.reshape(-1, x.shape[-1])
        logits, _ = self._linear(flat, f"{prefix}.router", "router", "router")
        chosen, gate = layers.top_k_routing(logits, moe.top_k, moe.normalize_top_k)
        if self.replay_routing is not None:     # the experts of an earlier run, re-weighted here
            chosen = self.replay_routing.pop(0)
            gate = layers.routing_weights(layers.softmax(logits), chosen, moe.normalize_top_k)
        self.routing_log.append(chosen)
        self._vector("softmax", "router_topk", logits.size, "softmax", flat.shape[0])
        out = np.zeros_like(flat)
        for expert in range(moe.num_experts):
            rows, slot = np.nonzero(chosen == expert)
            if rows.size:
                y = self._mlp(flat[rows], prefix, f"expert{expert}.", "swiglu", expert)
                np.add.at(out, rows, gate[rows, slot][:, None] * y)
        if moe.shared_experts:
            shared = self._mlp(flat, prefix, "shared.", "swiglu", None)
            if moe.shared_expert_gate:
                g, _ = self._linear(flat, f"{prefix}.shared.expert_gate", "shared.expert_gate")
                shared = layers.sigmoid(g) * shared
            out = out + shared
        self._vector("add", "moe_combine", flat.shape[0] * moe.top_k * flat.shape[1], "combine", flat.shape[0])
        return out.reshape(x.shape)

    def _inject(self, h: np.ndarray, entry: np.ndarray, kind: str) -> np.ndarray:
        if kind == "adapter":
            out, _ = self._linear(np.concatenate([h, entry], axis=-1), "loop.adapter", "adapter", "adapter")
            return out
        return self._add(h, entry, "inject_add")

    def _exit_gate(self, h: np.ndarray) -> np.ndarray:
        logit, _ = self._linear(h, "loop.exit_gate", "exit_gate")
        return layers.sigmoid(logit[..., 0])

    def _output(self, h: np.ndarray) -> np.ndarray:
        model = self.model
        repeat = loop_repeat(model)
        if model.final_norm and not (repeat is not None and repeat.final_norm):
            h = self._norm(h, "final_norm", "final_norm")
        head = lm_head_tensor(model)
        # A causal model needs logits of the last token only; a task model of every position.
        logits = self._linear(h if model.task is not None else h[:, -1:], head.weight_id, "lm_head",
                              "lm_head")[0] if head is not None else h
        for tensor in self.tensors.values():
            if tensor.role == "head":     # pooled heads (TRM's Q head) read the first position
                self._linear(h[:, 0], tensor.weight_id, tensor.weight_id)
        return logits


def initial_state(seed: int, positions: np.ndarray, batch: int, width: int, std: float) -> np.ndarray:
    """Huginn's random initial state (batch, tokens, width): truncated normal with `std`, cut
    at INITIAL_STATE_TRUNCATION std (values outside are redrawn, as torch's trunc_normal_), one
    generator per position seeded with (seed, position) so a recomputation draws the same state."""
    state = np.empty((batch, len(positions), width), np.float32)
    for t, position in enumerate(positions):
        rng = np.random.default_rng([seed, int(position)])
        draw = rng.standard_normal((batch, width))
        outside = np.abs(draw) > INITIAL_STATE_TRUNCATION
        while outside.any():
            draw[outside] = rng.standard_normal(int(outside.sum()))
            outside = np.abs(draw) > INITIAL_STATE_TRUNCATION
        state[:, t] = (draw * std).astype(np.float32)
    return state


def _tokens(x: np.ndarray) -> int:
    return int(np.prod(x.shape[:-1]))


def _check_supported(model: ModelSpec, halting: str, exit_threshold: float | None) -> None:
    problems = []
    if model.positional == "sinusoidal":
        problems.append("sinusoidal positions")
    if model.loop.kv_policy not in ("per_loop", "shared"):
        problems.append(f"kv_policy {model.loop.kv_policy} (supported: per_loop, shared)")
    if exit_threshold is not None and model.attention.causal and model.loop.kv_policy != "shared":
        problems.append("a convergence exit with a per-loop KV cache (a token that stops early leaves "
                        "later iterations' caches short; use kv_policy shared, as Huginn does)")
    if model.attention.kind != "full":
        problems.append(f"{model.attention.kind} attention (supported: full)")
    if any(s.kind == "hyper_connection" for s in expand(model, 1)):
        problems.append("hyper-connection streams")
    if halting not in ("none", "act"):
        problems.append(f"halting {halting!r} (supported: none, act)")
    if halting == "act" and not any(s.kind == "exit_gate" for s in expand(model, 1)):
        problems.append("ACT halting needs a loop with an exit gate")
    if problems:
        raise ConfigError(f"model {model.name}: the reference executor does not support " + "; ".join(problems))
