"""build_trace: turn a ModelSpec into an OpTrace for one prefill or one decode step.

The builder walks `schedule.expand` (the single definition of loop semantics) and references
weights only through `weights.weight_table`, so a shared block keeps one `weight_id` in every
loop iteration. Rows of a layer application depend only on (the layer's shape, active sequences,
sequences writing KV), so each distinct combination is built once and relabelled for the other
layers and iterations: a Huginn decode at r=64 (~5,000 rows) builds in milliseconds. Conventions are listed in docs/traces.md.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pandas as pd

from hwsim import units
from hwsim.errors import TraceError
from hwsim.spec.model import ModelSpec
from hwsim.workload import trace as T
from hwsim.workload.depth import loop_depths
from hwsim.workload.moe import expert_token_counts
from hwsim.workload.schedule import Step, expand, loop_repeat, one_pass
from hwsim.workload.weights import (layer_prefix, layer_shapes, layer_weight_sizes, lm_head_tensor, model_level_sizes,
                                    weight_sizes, weight_table)

# Vector-op FLOPs per element (documented in docs/traces.md): rmsnorm/layernorm ~ square,
# sum, scale, weight; softmax ~ max, subtract, exp, sum, divide; SiLU(x)*y ~ exp, add, divide,
# multiply; tanh-GELU ~ 8; rotary ~ two multiplies and an add; residual/bias add 1;
# MoE combine = scale + add; embedding scale 1 multiply; sigmoid(g)*y output gate ~ exp, add,
# divide, multiply (as SiLU(x)*y).
FLOPS_PER_ELEMENT = {"norm": 4.0, "softmax": 5.0, "swiglu_act": 4.0, "gelu_act": 8.0,
                     "rope": 3.0, "add": 1.0, "combine": 2.0, "scale": 1.0, "sigmoid_gate": 4.0,
                     # hyper-connection per stream element: H_pre sum, H_res scale, H_post
                     # broadcast-add (multiply-add each): ~6 (arXiv 2604.21254 section 3)
                     "hyper_mix": 6.0}

# Columns that vary within a step; the rest (phase, loop_iter, bits, token_step) are filled per
# step or per trace. Order of the tuples held in _Builder.rows.
_ROW = (T.LAYER, T.BLOCK_ID, T.OP_KIND, T.NAME, T.M, T.N, T.K, T.FLOPS, T.WEIGHT_ID,
        T.WEIGHT_BYTES, T.ACT_IN_BYTES, T.ACT_OUT_BYTES, T.KV_READ_BYTES, T.KV_WRITE_BYTES,
        T.WEIGHT_BITS, T.EXPERT_ID, T.TOKENS_ACTIVE)
# Each _ROW column's array dtype (_columnar); expert_id is -1 where an op has no expert.
_ROW_DTYPES = tuple(object if c in (T.BLOCK_ID, T.OP_KIND, T.NAME, T.WEIGHT_ID)
                    else np.int64 if c in (T.LAYER, T.M, T.N, T.K, T.TOKENS_ACTIVE, T.EXPERT_ID) else np.float64
                    for c in _ROW)
_WEIGHT_ID = _ROW.index(T.WEIGHT_ID)
# A block of rows as the builder keeps it: row tuples when alike rows are merged, else columns.
_Piece = dict[str, np.ndarray] | list[tuple]
_LOOP_BLOCK = "loop"   # block_id of loop-level ops (adapter, inject add, loop norm, exit gate)


class _Builder:
    """Emits rows for one trace; per-step templates are memoised by their shape key."""

    def __init__(self, model: ModelSpec, phase: str, batch: int, context_len: int, depths: list[int],
                 token_step: int = 0):
        self.model, self.phase, self.batch = model, phase, batch
        # Equally likely experts rotate by the assignments of each decode step (moe.py).
        self.expert_offset = token_step * batch * model.moe.top_k if model.moe else 0
        self.depths = depths
        self.model_tensors = weight_table(model).model_level   # a layer's tensors are named in weight_sizes
        self.act_bits = model.quant.act.effective_bits
        self.kv_bits = model.quant.kv.effective_bits
        self.causal = model.attention.causal
        if model.task is not None:          # non-causal task: one forward over the whole sequence
            self.seq_tokens = model.task.seq_len + model.task.prefix_tokens
            self.keys = self.seq_tokens
        elif phase == "prefill":            # whole prompt; keys = full rectangle (docs/traces.md)
            self.seq_tokens, self.keys = context_len, context_len
        else:                               # one new token attending to the cache and itself
            self.seq_tokens, self.keys = 1, context_len + 1
        self.blocks: list[tuple[_Piece, int, int]] = []   # (rows or columns, loop_iter, repeat)
        self.merge_alike = False    # build_sum_columns: layers of one shape share their rows
        self.layer_uses: set[tuple[str, int, int, int]] = set()   # (block, layer, template's layer, id(template))
        self._templates: dict[tuple, Any] = {}
        self._layer_makers: dict[int, Callable[[], _Piece]] = {}   # id(merged template) -> its maker
        self._expert_counts: dict[int, np.ndarray] = {}
        # (bytes, bits) by weight_id: the model's own tensors, and each layer's once its rows are built
        self._weights, self._layer_shapes = dict(model_level_sizes(model)), layer_shapes(model)

    # -- row primitives ---------------------------------------------------------------------
    def _act(self, elements: float) -> float:
        return units.bytes_for(elements, self.act_bits)

    def _kv(self, elements: float) -> float:
        return units.bytes_for(elements, self.kv_bits) if self.causal else 0.0

    def _weight(self, weight_id: str) -> tuple[float, float]:
        """(bytes, bits) of a weight tensor (weights.weight_sizes) the builder knows."""
        return self._weights[weight_id] if weight_id else (0.0, 0.0)

    def gemm(self, out, where, kind, name, m, n, k, weight_id="", act_in=None, act_out=None,
             kv_read=0.0, kv_write=0.0, expert=-1):
        layer, block, tokens = where
        weight_bytes, bits = self._weight(weight_id)
        out.append((layer, block, kind, name, m, n, k, 2.0 * m * n * k, weight_id, weight_bytes,
                    self._act(m * k) if act_in is None else act_in,
                    self._act(m * n) if act_out is None else act_out,
                    kv_read, kv_write, bits, expert, tokens))

    def vector(self, out, where, kind, name, elements, flops_per_element, weight_id=""):
        layer, block, tokens = where
        weight_bytes, bits = self._weight(weight_id)
        out.append((layer, block, kind, name, 0, 0, 0, elements * flops_per_element, weight_id,
                    weight_bytes, self._act(elements), self._act(elements), 0.0, 0.0, bits, -1,
                    tokens))

    def _existing(self, weight_id: str) -> str:
        return weight_id if weight_id in self._weights else ""

    # -- one layer application --------------------------------------------------------------
    def layer_rows(self, block: str, layer: int, seqs: int, writers: int, window_keys: int = 0) -> list[tuple]:
        model, att, h = self.model, self.model.attention, self.model.hidden_size
        self._weights.update(layer_weight_sizes(model, layer))
        tokens = seqs * self.seq_tokens
        where, out = (layer, block, tokens), []
        prefix = f"{block}.L{layer}"
        q_out, kv_out = att.num_heads * att.head_dim, att.num_kv_heads * att.head_dim
        slots = model.norm_slots

        def norm(position: str) -> None:
            if position in slots:
                i = slots.index(position)
                self.vector(out, where, "norm", f"norm{i}", tokens * h, FLOPS_PER_ELEMENT["norm"],
                            self._existing(f"{prefix}.norm{i}"))

        kv_write = 0.0 if att.kind == "linear" else self._kv(writers * self.seq_tokens * kv_out)
        norm("attn_in")
        self.gemm(out, where, "matmul", "q", tokens, q_out, h, f"{prefix}.q")
        self.gemm(out, where, "matmul", "k", tokens, kv_out, h, f"{prefix}.k", kv_write=kv_write)
        self.gemm(out, where, "matmul", "v", tokens, kv_out, h, f"{prefix}.v", kv_write=kv_write)
        if att.output_gate:
            self.gemm(out, where, "matmul", "attn_gate", tokens, q_out, h, f"{prefix}.attn_gate")
        if att.qk_bias:
            self.vector(out, where, "add", "qk_bias", tokens * (q_out + kv_out), FLOPS_PER_ELEMENT["add"],
                        f"{prefix}.qk_bias")
        if att.qk_norm != "none":
            self.vector(out, where, "norm", "qk_norm", tokens * (q_out + kv_out), FLOPS_PER_ELEMENT["norm"],
                        f"{prefix}.qk_norm")
        if model.positional == "rope":
            self.vector(out, where, "rope", "rope", tokens * (q_out + kv_out), FLOPS_PER_ELEMENT["rope"])
        heads_m, keys = tokens * att.num_heads, self.keys
        if att.kind == "linear":
            self._linear_mixer(out, where, seqs, tokens, writers)
            return self._after_attention(out, where, prefix, tokens, q_out, norm)
        if att.kind != "full" and att.window is not None:   # sliding window / sparse: `window` keys
            keys = min(keys, att.window)
        keys += window_keys                             # PLT: own window on top of first-loop KV
        past = self._kv(seqs * keys * kv_out)          # K (or V) of every key, every sequence
        transient_kv = 0.0 if self.causal else self._act(tokens * kv_out)
        scores = self._act(heads_m * keys)
        self.gemm(out, where, "attn_score", "attn_score", heads_m, keys, att.head_dim,
                  act_in=self._act(tokens * q_out) + transient_kv, act_out=scores, kv_read=past)
        self.vector(out, where, "softmax", "softmax", heads_m * keys, FLOPS_PER_ELEMENT["softmax"])
        self.gemm(out, where, "attn_value", "attn_value", heads_m, att.head_dim, keys,
                  act_in=scores + transient_kv, act_out=self._act(tokens * q_out), kv_read=past)
        return self._after_attention(out, where, prefix, tokens, q_out, norm)

    def _after_attention(self, out, where, prefix, tokens, q_out, norm) -> list[tuple]:
        model, h = self.model, self.model.hidden_size
        if model.attention.output_gate:
            self.vector(out, where, "gate", "attn_gate_mul", tokens * q_out, FLOPS_PER_ELEMENT["sigmoid_gate"])
        self.gemm(out, where, "matmul", "o", tokens, h, q_out, f"{prefix}.o")
        norm("attn_out")
        self.vector(out, where, "add", "residual_attn", tokens * h, FLOPS_PER_ELEMENT["add"])
        norm("attn_residual")
        norm("mlp_in")
        if model.mlp is not None:
            self._mlp(out, where, prefix, tokens, model.mlp.kind, model.mlp.intermediate_size, "")
        else:
            self._moe(out, where, prefix, tokens)
        norm("mlp_out")
        self.vector(out, where, "add", "residual_mlp", tokens * h, FLOPS_PER_ELEMENT["add"])
        norm("mlp_residual")
        return out

    def _linear_mixer(self, out, where, seqs, tokens, writers) -> None:
        """A linear mixer (LT2's GDN/KDA class): each KV head keeps a head_dim x head_dim state,
        read by q S and updated by k^T v once per step; no softmax, no growing cache."""
        att = self.model.attention
        d = att.head_dim
        state = self._kv(seqs * att.num_kv_heads * d * d)
        written = self._kv(writers * att.num_kv_heads * d * d)
        self.gemm(out, where, "attn_score", "state_read", tokens * att.num_heads, d, d,
                  act_in=self._act(tokens * att.num_heads * d), kv_read=state)
        self.gemm(out, where, "attn_value", "state_update", tokens * att.num_kv_heads, d, d,
                  act_in=self._act(2 * tokens * att.num_kv_heads * d), act_out=0.0, kv_write=written)

    def _mlp(self, out, where, prefix, tokens, kind, width, stem, expert=-1, op_kind="matmul"):
        """A gated (swiglu) or plain (gelu) MLP; `stem` names expert/shared weights."""
        h = self.model.hidden_size
        if kind == "swiglu":
            self.gemm(out, where, op_kind, f"{stem}gate", tokens, width, h, f"{prefix}.{stem}gate", expert=expert)
        self.gemm(out, where, op_kind, f"{stem}up", tokens, width, h, f"{prefix}.{stem}up", expert=expert)
        self.vector(out, where, "act", f"{stem}act", tokens * width, FLOPS_PER_ELEMENT[f"{kind}_act"])
        self.gemm(out, where, op_kind, f"{stem}down", tokens, h, width, f"{prefix}.{stem}down", expert=expert)

    def _moe(self, out, where, prefix, tokens):
        moe, h = self.model.moe, self.model.hidden_size
        self.gemm(out, where, "router", "router", tokens, moe.num_experts, h, f"{prefix}.router")
        self.vector(out, where, "softmax", "router_topk", tokens * moe.num_experts, FLOPS_PER_ELEMENT["softmax"])
        if tokens not in self._expert_counts:
            self._expert_counts[tokens] = expert_token_counts(moe, tokens, self.expert_offset)
        for expert, count in enumerate(self._expert_counts[tokens]):
            if count:
                self._mlp(out, where, prefix, int(count), "swiglu", moe.expert_intermediate_size,
                          f"expert{expert}.", expert=expert, op_kind="expert")
        if moe.shared_experts:
            self._mlp(out, where, prefix, tokens, "swiglu", moe.shared_expert_intermediate_size, "shared.")
            if moe.shared_expert_gate:
                self.gemm(out, where, "matmul", "shared.expert_gate", tokens, 1, h, f"{prefix}.shared.expert_gate")
        self.vector(out, where, "add", "moe_combine", tokens * moe.top_k * h, FLOPS_PER_ELEMENT["combine"])

    # -- loop-level and model-level steps ---------------------------------------------------
    def step_rows(self, step: Step, seqs: int) -> list[tuple]:
        """Rows of a non-layer step: loop-level ops, or the schedule's model-level final norm."""
        h, tokens = self.model.hidden_size, seqs * self.seq_tokens
        where, out = (-1, _LOOP_BLOCK, tokens), []
        if step.kind == "final_norm":
            self.vector(out, (-1, "", tokens), "norm", "final_norm", tokens * h, FLOPS_PER_ELEMENT["norm"],
                        self._existing("final_norm"))
        elif step.kind == "inject" and step.inject == "adapter":
            self.gemm(out, where, "adapter", "adapter", tokens, h, 2 * h, "loop.adapter")
        elif step.kind == "inject":
            self.vector(out, where, "add", "inject_add", tokens * h, FLOPS_PER_ELEMENT["add"])
        elif step.kind == "loop_norm":
            self.vector(out, where, "norm", "loop_norm", tokens * h, FLOPS_PER_ELEMENT["norm"],
                        self._existing("final_norm"))
        elif step.kind == "hyper_connection":   # Hyperloop: n streams mixed after an iteration
            hc = self.model_tensors[f"loop.hc{step.loop_iter}"]
            self.gemm(out, where, "matmul", "hc_coeff", tokens, hc.out_features, hc.in_features, hc.weight_id)
            self.vector(out, where, "add", "hc_mix", tokens * hc.in_features, FLOPS_PER_ELEMENT["hyper_mix"])
        else:  # exit gate: Linear(h -> 1)
            self.gemm(out, where, "matmul", "exit_gate", tokens, 1, h, "loop.exit_gate")
        return out

    def embedding_rows(self) -> list[tuple]:
        model, tokens = self.model, self.batch * self.seq_tokens
        where, out = (-1, "", tokens), []
        width = model.embedding_size or model.hidden_size
        for tensor in self.model_tensors.values():
            if tensor.kind == "embedding":   # lookup: gathered rows counted as activation input
                out.append((-1, "", "embed", tensor.weight_id, 0, 0, 0, 0.0, "", 0.0,
                            units.bytes_for(tokens * width, tensor.bits(model)), self._act(tokens * width),
                            0.0, 0.0, tensor.bits(model), -1, tokens))
        if model.embedding_scale != 1.0:
            self.vector(out, where, "scale", "embed_scale", tokens * width, FLOPS_PER_ELEMENT["scale"])
        if "embed_norm" in self.model_tensors:
            self.vector(out, where, "norm", "embed_norm", tokens * width, FLOPS_PER_ELEMENT["norm"], "embed_norm")
        if "embed_proj" in self.model_tensors:
            self.gemm(out, where, "matmul", "embed_proj", tokens, model.hidden_size, width, "embed_proj")
        return out

    def output_rows(self) -> list[tuple]:
        model, h = self.model, self.model.hidden_size
        all_tokens = self.batch * self.seq_tokens
        out = []
        repeat = loop_repeat(model)
        if model.final_norm and not (repeat is not None and repeat.final_norm):
            self.vector(out, (-1, "", all_tokens), "norm", "final_norm", all_tokens * h,
                        FLOPS_PER_ELEMENT["norm"], self._existing("final_norm"))
        head = lm_head_tensor(model)
        if head is not None:
            # Causal prefill needs logits of the last prompt token only; decode and non-causal
            # task models produce logits for every token they process.
            rows = self.batch if (self.causal and self.phase == "prefill") else all_tokens
            self.gemm(out, (-1, "", rows), "lm_head", "lm_head", rows, model.vocab_size, h, head.weight_id)
        for tensor in self.model_tensors.values():
            if tensor.role == "head":        # pooled heads (TRM's Q head): one row per sequence
                self.gemm(out, (-1, "", self.batch), "matmul", tensor.weight_id, self.batch,
                          tensor.out_features, tensor.in_features, tensor.weight_id)
        return out

    # -- assembly ---------------------------------------------------------------------------
    def add(self, rows: list[tuple], loop_iter: int) -> None:
        self.blocks.append((self.piece(rows), loop_iter, 1))

    def piece(self, rows: list[tuple]) -> _Piece:
        """A block's rows as kept until the trace's columns are made: as they are when alike rows
        are merged (the columns are then made in one pass over every row), else as columns (which
        are relabelled for other layers)."""
        return rows if self.merge_alike else _columnar(rows)

    def cached(self, key: tuple, make):
        columns = self._templates.get(key)
        if columns is None:
            columns = self._templates[key] = make()
        return columns

    def layer_shape(self, block: str, layer: int) -> int:
        """What a layer's rows depend on besides its number, as a number: its tensors' names
        after the layer prefix, sizes and bits (weights.layer_shapes)."""
        return self._layer_shapes[layer]

    def layer_columns(self, block: str, layer: int, seqs: int, writers: int, loop_iter: int = -1) -> _Piece:
        """Columns of one layer application in loop iteration `loop_iter`. Layers of one shape
        (layer_shape) give the same rows but for the layer number and the weight ids' prefix, so
        the rows are built once per shape and copied with those relabelled: a 32-layer model builds
        one layer's rows, not 32. When alike rows are merged (build_sum_columns), the shape's rows
        stand for every such layer."""
        window = self.window_keys(loop_iter)
        key = ("shape", block, self.layer_shape(block, layer), seqs, writers, window)
        found = self._templates.get(key)
        if found is None:
            found = self._templates[key] = self._layer_template(block, layer, seqs, writers, loop_iter)
        first, template = found
        if self.merge_alike:
            self.layer_uses.add((block, layer, first, id(template)))
            return template
        if first == layer:
            return template

        def relabel() -> dict[str, np.ndarray]:
            old, new = layer_prefix(block, first), layer_prefix(block, layer)
            cut = len(old)
            return {**template, T.LAYER: np.full(len(template[T.LAYER]), layer, dtype=np.int64),
                    T.WEIGHT_ID: np.array([new + w[cut:] if w.startswith(old) else w for w in template[T.WEIGHT_ID]],
                                          dtype=object)}
        return self.cached(("layer", block, layer, seqs, writers, window), relabel)

    def _layer_template(self, block: str, layer: int, seqs: int, writers: int, loop_iter: int) -> tuple[int, Any]:
        """(layer, its piece) for the first layer of a shape; pieces_at makes the piece again."""
        def make() -> _Piece:
            return self.piece(self.layer_rows(block, layer, seqs, writers, self.window_keys(loop_iter)))

        piece = make()
        self._layer_makers[id(piece)] = make
        return layer, piece

    def used_weight_bytes(self) -> float:
        """Bytes of the distinct weight tensors the trace reads, layers standing for others included.
        A layer reads the tensors its templates name under its own prefix; layers of one shape
        reading the same templates read as many bytes, so each such group is counted once."""
        sizes = weight_sizes(self.model)
        first_of = {}
        by_layer: dict[tuple[str, int], set[int]] = {}
        for block, layer, first, template in self.layer_uses:
            first_of[template] = first
            by_layer.setdefault((block, layer), set()).add(template)
        blocks = {id(rows): rows for rows, _, _ in self.blocks}
        used = set()
        layer_bytes: dict[tuple, float] = {}
        total = 0.0
        for (block, layer), templates in by_layer.items():
            key = (block, self.layer_shape(block, layer), frozenset(templates))
            if key not in layer_bytes:
                own = set()
                for template in templates:
                    old, new = layer_prefix(block, first_of[template]), layer_prefix(block, layer)
                    for weight_id in {row[_WEIGHT_ID] for row in blocks[template]}:
                        if weight_id.startswith(old):
                            own.add(new + weight_id[len(old):])
                        else:
                            used.add(weight_id)       # a tensor outside the layer: counted once below
                layer_bytes[key] = sum(sizes[weight_id][0] for weight_id in own)
            total += layer_bytes[key]
        for template_id, rows in blocks.items():
            if template_id not in first_of:
                used.update(row[_WEIGHT_ID] for row in rows)
        used.discard("")
        return float(total + sum(sizes[weight_id][0] for weight_id in used))

    def pieces_at(self, pieces: list[tuple[_Piece, int, int]], context_len: int) -> list[tuple[_Piece, int, int]]:
        """This merged decode step's `pieces` (build_sum_columns) with a cache of `context_len`
        tokens: only the layers' rows read the keys, so they are made again; every other row, and
        the weights read, stay as they are (the builder keeps the blocks it built)."""
        self.keys = context_len + 1
        remade = {template: make() for template, make in self._layer_makers.items()}
        return [(remade.get(id(rows), rows), loop_iter, repeat) for rows, loop_iter, repeat in pieces]

    def iteration_counts(self, loop_iter: int) -> tuple[int, int]:
        """(sequences computing, sequences writing KV) in one iteration of the loop."""
        depths, batch = self.depths, self.batch
        running = sum(1 for d in depths if d > loop_iter)
        deepest = max(depths)
        compact = self.model.loop.batch_exit == "compact"
        active = running if compact else batch
        policy, last_k = self.model.loop.kv_policy, self.model.loop.kv_last_k
        exiting = sum(1 for d in depths if d == loop_iter + 1)
        if policy == "per_loop":
            writers = active
        elif policy == "first":      # first-iteration KV serves every iteration (PLT, MoR sharing)
            writers = active if loop_iter == 0 or self.model.loop.kv_window else 0
        elif policy == "exit_only":
            writers = exiting
        elif policy == "shared":
            writers = exiting if compact else (batch if loop_iter == deepest - 1 else 0)
        else:  # last_k
            if compact:
                writers = sum(1 for d in depths if d - last_k <= loop_iter < d)
            else:
                writers = batch if loop_iter >= deepest - last_k else 0
        return active, writers

    def window_keys(self, loop_iter: int) -> int:
        """Extra keys a later iteration attends under first-loop KV + window (kv_window)."""
        window = self.model.loop.kv_window
        if not window or loop_iter < 1:
            return 0
        return min(self.keys, window)

    def iteration_runs(self) -> list[tuple[int, int]]:
        """(first iteration, length) ranges of loop iterations with the same sequence counts.
        The counts change only where some sequence's depth d starts, ends or enters its last-k
        window (d - 1, d, d - last_k), so only those iterations are compared; iteration 0 is a
        range of its own (the simulator's warm-up)."""
        deepest, last_k = max(self.depths), self.model.loop.kv_last_k
        cuts = {0, 1, deepest} | {c for d in set(self.depths) for c in (d - 1, d, d - last_k)}
        cuts = sorted(c for c in cuts if 0 <= c <= deepest)
        runs: list[tuple[int, int]] = []
        for first, end in zip(cuts, cuts[1:]):
            if runs and runs[-1][0] > 0 and self.iteration_counts(first) == self.iteration_counts(runs[-1][0]):
                runs[-1] = (runs[-1][0], runs[-1][1] + end - first)
            else:
                runs.append((first, end - first))
        return runs

    def exit_check(self, tail: list[Step], loop_iter: int, active: int) -> None:
        """Huginn's KL exit check after iteration `loop_iter` of a decode step: the steps after
        the loop (coda layers read the KV cache but write none: their output is discarded unless
        the token exits) and the LM head, over the active sequences."""
        for step in tail:
            if step.kind == "layer":
                columns = self.layer_columns(step.block, step.layer, active, 0)
            else:
                columns = self.cached((step.kind, step.inject, active), lambda: self.piece(self.step_rows(step, active)))
            self.blocks.append((columns, loop_iter, 1))
        model, rows, tokens = self.model, [], active * self.seq_tokens
        repeat = loop_repeat(model)
        if model.final_norm and not (repeat is not None and repeat.final_norm):   # as output_rows
            self.vector(rows, (-1, _LOOP_BLOCK, tokens), "norm", "exit_check.final_norm", tokens * model.hidden_size,
                        FLOPS_PER_ELEMENT["norm"], self._existing("final_norm"))
        self.gemm(rows, (-1, _LOOP_BLOCK, tokens), "lm_head", "exit_check.lm_head", tokens, model.vocab_size,
                  model.hidden_size, lm_head_tensor(model).weight_id)
        self.add(rows, loop_iter)

    def build(self, compress_loops: bool = False) -> None:
        self.add(self.embedding_rows(), -1)
        counts = {-1: (self.batch, self.batch)}
        policy = self.model.loop.exit_policy
        kl_check = policy is not None and policy.check == "kl" and self.phase == "decode"
        if self.model.is_looped:
            # A KL check follows every iteration, so its rows are per iteration: no compression then.
            runs = self.iteration_runs() if compress_loops and not kl_check else None
            steps = expand(self.model, max(self.depths), runs)
        else:          # no loop: the steps of one pass
            steps = one_pass(self.model)
        tail = []
        if kl_check:
            last = max(i for i, s in enumerate(steps) if s.loop_iter >= 0)
            tail = [s for s in steps[last + 1:] if s.kind in ("layer", "final_norm")]
        previous = -1
        for step in steps:
            if tail and step.loop_iter > previous >= 0:   # iteration `previous` ended, another follows
                self.exit_check(tail, previous, counts[previous][0])
            previous = step.loop_iter
            if step.loop_iter not in counts:
                counts[step.loop_iter] = self.iteration_counts(step.loop_iter)
            active, writers = counts[step.loop_iter]
            if step.kind == "layer":
                columns = self.layer_columns(step.block, step.layer, active, writers, step.loop_iter)
            else:
                key = (step.kind, step.inject, active,
                       step.loop_iter if step.kind == "hyper_connection" else None)
                columns = self.cached(key, lambda: self.piece(self.step_rows(step, active)))
            self.blocks.append((columns, step.loop_iter, step.repeat))
        self.add(self.output_rows(), -1)

    def pieces(self) -> list[tuple[_Piece, int, int]]:
        """(rows or columns, loop_iter, repeat) of the trace's blocks in order; when alike rows are
        merged, one entry per distinct block with its repeats summed."""
        if not self.merge_alike:
            return self.blocks
        merged: dict[int, list] = {}
        for columns, loop_iter, repeat in self.blocks:
            entry = merged.setdefault(id(columns), [columns, loop_iter, 0])
            entry[2] += repeat
        return [tuple(entry) for entry in merged.values()]

    def columns(self, token_step: int, pieces: list | None = None, contexts: int = 1) -> dict[str, np.ndarray]:
        """The trace's columns as numpy arrays (text as Python objects, expert_id -1 for none):
        what the engines read, without building a DataFrame. `pieces` (default: this trace's)
        may hold the pieces of `contexts` alike traces in turn, stacked into one set of columns
        (op ids count from 0 in each)."""
        pieces = self.pieces() if pieces is None else pieces
        if self.merge_alike:     # row tuples: one pass makes every column
            sizes = [len(rows) for rows, _, _ in pieces]
            data = _columnar([row for rows, _, _ in pieces for row in rows])
        else:
            sizes = [len(columns[T.LAYER]) for columns, _, _ in pieces]
            data = {c: np.concatenate([columns[c] for columns, _, _ in pieces]) for c in _ROW}
        count = len(data[T.LAYER])
        data.update({
            T.OP_ID: np.concatenate([np.arange(count // contexts, dtype=np.int64)] * contexts),
            T.PHASE: np.full(count, self.phase, dtype=object),
            T.LOOP_ITER: np.repeat(np.array([i for _, i, _ in pieces], dtype=np.int64), sizes),
            T.REPEAT: np.repeat(np.array([r for _, _, r in pieces], dtype=np.int64), sizes),
            T.ACT_BITS: np.full(count, float(self.act_bits)),
            T.KV_BITS: np.full(count, float(self.kv_bits)),
            T.TOKEN_STEP: np.full(count, token_step, dtype=np.int64),
        })
        return data


def columns_frame(columns: dict[str, np.ndarray], phase: str) -> pd.DataFrame:
    """The OpTrace DataFrame of a `phase` trace's columns (_Builder.columns), in schema dtypes."""
    count = len(columns[T.OP_ID])
    expert = columns[T.EXPERT_ID]
    data = {**columns,
            T.PHASE: pd.Categorical.from_codes(np.zeros(count, dtype=np.int8), [phase]),
            T.EXPERT_ID: pd.arrays.IntegerArray(np.maximum(expert, 0), expert < 0),
            T.OP_KIND: pd.Categorical(columns[T.OP_KIND])}
    for column in (T.BLOCK_ID, T.NAME, T.WEIGHT_ID):
        data[column] = pd.Series(columns[column], dtype=object)   # object, as T.SCHEMA says
    return pd.DataFrame({c: data[c] for c in T.COLUMNS})


def _columnar(rows: list[tuple]) -> dict[str, np.ndarray]:
    """Row tuples (in _ROW order) -> one typed array per column; expert_id -1 = none."""
    values = list(zip(*rows)) if rows else [()] * len(_ROW)
    return {column: np.array(column_values, dtype=dtype) for column, dtype, column_values in zip(_ROW, _ROW_DTYPES, values)}


def build_trace(model: ModelSpec, phase: str, batch: int = 1, context_len: int = 0, *,
                loops: int | None = None, token_step: int = 0, num_steps: int = 1,
                compress_loops: bool = False) -> pd.DataFrame:
    """The OpTrace of one prefill or decode step as a DataFrame (build_columns says which)."""
    return columns_frame(build_columns(model, phase, batch, context_len, loops=loops, token_step=token_step,
                                       num_steps=num_steps, compress_loops=compress_loops), phase)


def build_columns(model: ModelSpec, phase: str, batch: int = 1, context_len: int = 0, *,
                  loops: int | None = None, token_step: int = 0, num_steps: int = 1,
                  compress_loops: bool = False) -> dict[str, np.ndarray]:
    """The columns (_Builder.columns) of the OpTrace of one prefill (the whole prompt of
    `context_len` tokens per sequence; a non-causal task model runs one forward over its task
    sequence) or one decode step (one new token per sequence with `context_len` tokens already
    cached; `token_step` of `num_steps` picks per-sequence loop depths, see depth.loop_depths).
    `loops` fixes the loop count. `compress_loops` writes each run of alike loop iterations once
    with its `repeat` count (trace.py), so the trace's size and build time do not grow with the
    loop count."""
    step = token_step if phase == "decode" else 0
    builder = _built(model, phase, batch, context_len, loops, token_step, num_steps, compress_loops, False)
    return builder.columns(step)


def build_sum_columns(model: ModelSpec, phase: str, batch: int = 1, context_len: int = 0, *,
                      token_step: int = 0, num_steps: int = 1) -> tuple[dict[str, np.ndarray], Callable[[], float]]:
    """For engines that only sum over a trace's rows (the closed form): the loop-compressed
    trace's columns with every layer of one shape written once, its `repeat` the number of layer
    applications it stands for (layer numbers and weight ids are then those of the first), and
    what counts the bytes of the distinct weight tensors the trace reads (when asked: only the
    floor needs them). A 16-layer decode is ~25 rows."""
    step = token_step if phase == "decode" else 0
    builder = _built(model, phase, batch, context_len, None, token_step, num_steps, True, True)
    return builder.columns(step), builder.used_weight_bytes


def build_decode_sum_columns(model: ModelSpec, batch: int, contexts: tuple[int, ...], *, token_step: int = 0,
                             num_steps: int = 1) -> tuple[dict[str, np.ndarray], Callable[[], float]]:
    """`build_sum_columns` of one decode step at each of `contexts` (cached tokens), in one pass
    and stacked: the rows at the first context, then as many at the next, ...
    The context changes the attention's rows only (the closed form reads a step at two contexts),
    so the rest is built once. The distinct weight bytes are the same at every context."""
    builder = _built(model, "decode", batch, contexts[0], None, token_step, num_steps, True, True)
    first = builder.pieces()
    pieces = list(first)
    for context_len in contexts[1:]:
        _check_context(context_len)
        pieces += builder.pieces_at(first, context_len)
    return builder.columns(token_step, pieces, len(contexts)), builder.used_weight_bytes


def _check_context(context_len: int) -> None:
    if context_len < 0:
        raise TraceError(f"context length must be >= 0, got {context_len}")


def _built(model: ModelSpec, phase: str, batch: int, context_len: int, loops: int | None, token_step: int,
           num_steps: int, compress_loops: bool, merge_alike: bool) -> _Builder:
    """A builder that has built the trace the arguments describe (build_columns)."""
    if phase not in T.PHASES:
        raise TraceError(f"phase must be one of {', '.join(T.PHASES)}, got {phase!r}")
    if batch < 1:
        raise TraceError(f"batch must be >= 1, got {batch}")
    _check_context(context_len)
    if phase == "decode" and not model.has_decode:
        raise TraceError(f"model {model.name} has no decode phase (non-causal or no LM head); use prefill")
    if phase == "prefill" and model.task is None and context_len < 1:
        raise TraceError(f"prefill of {model.name} needs a context length >= 1 (the prompt), got {context_len}")
    if loops is not None:
        if loops < 1:
            raise TraceError(f"loops must be >= 1, got {loops}")
        if not model.is_looped and loops != 1:
            raise TraceError(f"loops: {model.name} has no loop to repeat (a standard model runs once)")
        depths = [loops] * batch
    else:
        depths = loop_depths(model, batch, token_step, num_steps)
    builder = _Builder(model, phase, batch, context_len, depths, token_step if phase == "decode" else 0)
    builder.merge_alike = merge_alike
    builder.build(compress_loops)
    return builder
