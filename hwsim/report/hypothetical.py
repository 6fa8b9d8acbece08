"""Report preset `hypothetical-looped-edge`: looped designs that do not exist yet against dense
models of equal estimated quality, on edge chips.

Every looped design of a grid over (begin+end layers = N_once, middle layers = N_rec, loops,
hyper-connection streams, quantisation) is paired with its dense peer (parametric.dense_peer:
same width rules, N_dense = N_once + r^phi N_rec at equal training tokens), and both are
simulated (event simulation, decode) on each chip, the parametric edge NPU at several SRAM
sizes among them. Quality comes from the recurrence law and is labelled "scaling law
(phi=...)"; the Hyperloop rows carry their published scores, labelled as published. The
conclusion quotes only cells of the tables it prints (through one formatter, `cell`).
"""

from __future__ import annotations

import itertools
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from hwsim import units
from hwsim.scaling import law, parametric
from hwsim.scaling.parametric import ParametricSpec
from hwsim.scaling.presets import PRESETS, preset_model

NAME = "hypothetical-looped-edge"
PUBLISHED_HYPERLOOP = "published (arXiv 2604.21254 Table 1)"
# Published BF16 perplexity and 11-task accuracy of the small Hyperloop scale (2604.21254 Table 1).
HYPERLOOP_SMALL_SCORES = {"hyperloop-small-transformer": (14.65, 41.1), "hyperloop-small-looped": (14.85, 41.4),
                          "hyperloop-small": (14.40, 41.6)}


@dataclass(frozen=True)
class Grid:
    """The design space; the defaults are the preset (runs in about a minute on 2 cores)."""

    hidden_size: int = 1024
    num_heads: int = 16
    once_layers: tuple[int, ...] = (2, 4)           # begin + end, split evenly
    middle_layers: tuple[int, ...] = (2, 4, 6)
    loops: tuple[int, ...] = (2, 4, 8)
    streams: tuple[int, ...] = (1, 4)
    quants: tuple[str, ...] = ("int4-g128", "int8")
    chips: tuple[tuple[str, str | None], ...] = (
        ("edge-npu", "8 MiB"), ("edge-npu", "32 MiB"), ("edge-npu", "128 MiB"),
        ("jetson-orin-nano", None), ("rk3588", None))
    phis: tuple[str, ...] = ("truncated_bptt", "baseline", "hyper_connections", "equal_depth_recipe")
    training_tokens: float = 10e9
    prompt_len: int = 512
    gen_len: int = 32
    # Offline-optimal weight placement: the decode schedule is fixed, so a compiler can realise
    # it; LRU has a cliff where a working set just exceeds SRAM, which would decide the race.
    policy: str = "belady"
    published_rows: bool = True


def design_phi(spec: ParametricSpec) -> str:
    """The published phi that matches a design's recipe: hyper-connections or plain looping."""
    return "hyper_connections" if spec.streams > 1 else "baseline"


def looped_designs(grid: Grid) -> list[ParametricSpec]:
    out = []
    for once, middle, loops, streams in itertools.product(grid.once_layers, grid.middle_layers, grid.loops,
                                                          grid.streams):
        spec = ParametricSpec(begin_layers=once // 2, middle_layers=middle, end_layers=once - once // 2,
                              loops=loops, hidden_size=grid.hidden_size, num_heads=grid.num_heads,
                              streams=streams, training_tokens=grid.training_tokens)
        out.append(spec.model_copy(update={"phi": design_phi(spec)}))
    return out


def shape(spec: ParametricSpec) -> str:
    """`2-4x4-2 n4` (begin - middle x loops - end, streams) or `dense 12L`."""
    if spec.loops == 1 and spec.streams == 1 and not spec.begin_layers and not spec.end_layers:
        return f"dense {spec.middle_layers}L"
    text = f"{spec.begin_layers}-{spec.middle_layers}x{spec.loops}-{spec.end_layers}"
    return text + (f" n{spec.streams}" if spec.streams > 1 else "")


def chip_label(chip: tuple[str, str | None]) -> str:
    name, sram = chip
    return f"{name} ({sram} SRAM)" if sram else name


class _Sim:
    """Simulates each distinct (model, quant, chip) once."""

    def __init__(self, grid: Grid):
        from hwsim.spec import loader

        self.grid = grid
        self.hardware = {chip: loader.load_hardware(chip[0], {"memory.sram.capacity": chip[1]} if chip[1] else None)
                         for chip in grid.chips}
        self.memo: dict[tuple, dict] = {}

    def run(self, key: str, model, chip) -> dict:
        from hwsim.sim import simulate

        memo_key = (key, model.quant.name, chip)
        if memo_key not in self.memo:
            result = simulate(model, self.hardware[chip], phase="decode", prompt_len=self.grid.prompt_len,
                              gen_len=self.grid.gen_len, batch=1, policy=self.grid.policy, engine="des")
            t = result.totals
            tokens = self.grid.gen_len
            self.memo[memo_key] = {
                "tokens_per_s": t["tokens_per_s"], "energy_per_token_j": t["energy_per_token_j"],
                "bound": t["bound"], "fits": t["fits"],
                "refetch_bytes_per_token": t["dram_weight_refetch_bytes"] / tokens,
                "dram_bytes_per_token": t["dram_bytes_per_token"],
            }
        return self.memo[memo_key]


def _block_bytes(model) -> float:
    """Weight bytes of the looped block and its hyper-connections (what can stay on chip)."""
    from hwsim.workload.schedule import block_offsets
    from hwsim.workload.weights import weight_table

    if "middle" not in {b.name for b in model.blocks}:
        return 0.0
    lo = block_offsets(model)["middle"]
    hi = lo + model.block("middle").num_layers
    return sum(t.bytes(model) for t in weight_table(model).tensors
               if lo <= t.layer < hi or t.role == "hyper_connection")


def collect(grid: Grid) -> pd.DataFrame:
    """One row per (design, quant, chip): the looped design and, in its columns, its peer."""
    sim = _Sim(grid)
    rows = []
    for spec in looped_designs(grid):
        est = parametric.quality(spec)
        peer = parametric.dense_peer(spec)
        peer_est = parametric.quality(peer, spec.phi)
        n_once, n_rec = parametric.law_params(spec)
        for quant in grid.quants:
            model = parametric.build(spec, shape(spec), "parametric", quant)
            peer_model = parametric.build(peer, shape(peer), "parametric", quant)
            block = _block_bytes(model)
            for chip in grid.chips:
                mine, theirs = sim.run(shape(spec), model, chip), sim.run(shape(peer), peer_model, chip)
                sram = sim.hardware[chip].memory.get("sram")
                rows.append({
                    "chip": chip_label(chip), "design": shape(spec), "quant": quant,
                    "N_once": n_once, "N_rec": n_rec, "loops": spec.loops, "streams": spec.streams,
                    "unique_params": n_once + n_rec, "dense_equivalent_params": est.dense_equivalent_params,
                    "loss_nats": est.loss_nats, "accuracy_pct": est.accuracy_pct,
                    "quality_source": est.quality_source, "extrapolation": "; ".join(est.extrapolation),
                    "peer": shape(peer), "peer_loss_nats": peer_est.loss_nats,
                    "block_bytes": block, "sram_bytes": sram.capacity_bytes if sram else 0.0,
                    **mine,
                    "peer_tokens_per_s": theirs["tokens_per_s"], "peer_bound": theirs["bound"],
                    "peer_energy_per_token_j": theirs["energy_per_token_j"], "peer_fits": theirs["fits"],
                    "speedup": mine["tokens_per_s"] / theirs["tokens_per_s"],
                    "energy_ratio": mine["energy_per_token_j"] / theirs["energy_per_token_j"],
                })
    return pd.DataFrame(rows)


def published_rows(grid: Grid) -> pd.DataFrame:
    """The Hyperloop small scale with its published scores, simulated the same way."""
    sim = _Sim(grid)
    rows = []
    for name, (ppl, acc) in HYPERLOOP_SMALL_SCORES.items():
        spec = PRESETS[name].spec
        for quant, chip in itertools.product(grid.quants[:1], grid.chips):
            model = preset_model(name, quant)
            rows.append({"chip": chip_label(chip), "design": name, "quant": quant, "loops": spec.loops,
                         "streams": spec.streams, "unique_params": parametric.param_count(model, "non_embedding"),
                         "loss_nats": math.log(ppl), "accuracy_pct": acc, "quality_source": PUBLISHED_HYPERLOOP,
                         **sim.run(name, model, chip)})
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------- summaries


def cell(column: str, value) -> str:
    """The one formatter of table cells; the conclusion quotes these strings."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if column in ("speedup", "energy_ratio"):
        return f"{value:.2f}x"
    if column in ("tokens_per_s", "peer_tokens_per_s"):
        return units.human(float(value), "tok/s")
    if column.endswith("_bytes") or column.endswith("_bytes_per_token"):
        return units.human(float(value), "B")
    if column.endswith("params"):
        return f"{float(value) / 1e6:.1f}M"
    if column.endswith("_j"):
        return units.human(float(value), "J")
    if column in ("loss_nats", "peer_loss_nats"):
        return f"{value:.3f}"
    if column == "accuracy_pct":
        return f"{value:.1f} %"
    if column == "share_winning":
        return f"{100 * value:.0f} %"
    return str(value)


def resident_share(row) -> float:
    """Share of the looped block's re-reads (loops - 1 per token) served on chip, not from DRAM."""
    rereads = (row["loops"] - 1) * row["block_bytes"]
    return max(0.0, 1 - row["refetch_bytes_per_token"] / rereads) if rereads else 0.0


def why(row) -> str:
    """Why the looped design is faster or slower than its peer on this chip: the block resident
    (re-reads served on chip), bandwidth (fewer or more bytes from DRAM), or compute (r x FLOPs)."""
    share = resident_share(row)
    if row["speedup"] >= 1:
        if share >= 0.9:
            return "block resident"
        if share >= 0.1:
            return f"block {100 * share:.0f} % resident"
        return "bandwidth (fewer unique bytes)" if row["bound"] == "memory" else f"{row['bound']}-bound, fewer ops"
    if row["bound"] == "memory":
        return "bandwidth (block re-read from DRAM each loop)"
    return f"{row['bound']} (r x the FLOPs)"


def winners(frame: pd.DataFrame) -> pd.DataFrame:
    """Per chip: the looped shape with the largest speedup over its equal-quality peer."""
    rows = []
    for chip, group in frame.groupby("chip", sort=False):
        best = group.loc[group["speedup"].idxmax()]
        rows.append({"chip": chip, "design": best["design"], "quant": best["quant"], "peer": best["peer"],
                     "loops": best["loops"],
                     "tokens_per_s": best["tokens_per_s"], "peer_tokens_per_s": best["peer_tokens_per_s"],
                     "speedup": best["speedup"], "energy_ratio": best["energy_ratio"],
                     "bound": best["bound"], "block_bytes": best["block_bytes"], "sram_bytes": best["sram_bytes"],
                     "why": why(best), "share_winning": float((group["speedup"] > 1).mean())})
    return pd.DataFrame(rows)


def phi_sensitivity(grid: Grid, frame: pd.DataFrame, sim: _Sim | None = None) -> pd.DataFrame:
    """Per chip and phi (applied to every design): the best shape, its speedup, the share winning."""
    sim = sim or _Sim(grid)
    rows = []
    designs = looped_designs(grid)
    for phi in grid.phis:
        peers = {}
        for spec in designs:
            peer = parametric.dense_peer(spec, phi)
            peers[shape(spec)] = peer
        for chip in grid.chips:
            speedups = []
            for spec in designs:
                for quant in grid.quants:
                    mine = frame[(frame["chip"] == chip_label(chip)) & (frame["design"] == shape(spec))
                                 & (frame["quant"] == quant)].iloc[0]
                    peer = peers[shape(spec)]
                    theirs = sim.run(shape(peer), parametric.build(peer, shape(peer), "parametric", quant), chip)
                    speedups.append((mine["tokens_per_s"] / theirs["tokens_per_s"], shape(spec), quant))
            best = max(speedups)
            rows.append({"chip": chip_label(chip), "phi": f"{law.PHI[phi]:g} ({phi})", "design": best[1],
                         "quant": best[2], "speedup": best[0],
                         "share_winning": sum(s > 1 for s, _, _ in speedups) / len(speedups)})
    return pd.DataFrame(rows)


def markdown_table(frame: pd.DataFrame, columns: list[str]) -> str:
    """`frame`'s `columns` as a Markdown table, each value shown as the conclusion cites it."""
    from hwsim.report.table import to_markdown

    shown = pd.DataFrame({c: [cell(c, v) for v in frame[c]] for c in columns}, columns=columns)
    return to_markdown(shown)


def conclusion(win: pd.DataFrame, sens: pd.DataFrame) -> list[str]:
    """Paragraphs whose numbers are cells of the winners and sensitivity tables."""
    out = []
    for _, w in win.iterrows():
        lead = "wins" if w["speedup"] > 1 else "loses"
        out.append(f"On {w['chip']}, the best looped shape is {w['design']} ({w['quant']}): it {lead} against its "
                   f"equal-quality dense peer {w['peer']} at {cell('speedup', w['speedup'])} the decode rate "
                   f"({cell('tokens_per_s', w['tokens_per_s'])} vs {cell('peer_tokens_per_s', w['peer_tokens_per_s'])}), "
                   f"reason: {w['why']} (looped block {cell('block_bytes', w['block_bytes'])}, SRAM "
                   f"{cell('sram_bytes', w['sram_bytes'])}); {cell('share_winning', w['share_winning'])} of the "
                   f"looped designs beat their peer there.")
    for chip, group in sens.groupby("chip", sort=False):
        steps = "; ".join(f"phi {r['phi']}: {r['design']} at {cell('speedup', r['speedup'])} "
                          f"({cell('share_winning', r['share_winning'])} winning)" for _, r in group.iterrows())
        out.append(f"Across phi on {chip} (best shape, its lead over its peer, share of designs winning): {steps}. "
                   f"A larger phi makes a loop worth more unique layers, so the equal-quality dense peer is "
                   f"deeper and slower.")
    return out


def write(out_dir: Path, grid: Grid = Grid(), command: list[str] | None = None) -> list[str]:
    """Run the grid and write report.md, results.csv and manifest.json into `out_dir`."""
    from hwsim.report.manifest import build_manifest

    start = time.perf_counter()
    out_dir.mkdir(parents=True, exist_ok=True)
    frame = collect(grid)
    published = published_rows(grid) if grid.published_rows else pd.DataFrame()
    win = winners(frame)
    sens = phi_sensitivity(grid, frame)
    paragraphs = conclusion(win, sens)
    results = pd.concat([frame, published], ignore_index=True)
    results.to_csv(out_dir / "results.csv", index=False)
    detail = ["chip", "design", "quant", "unique_params", "dense_equivalent_params", "loss_nats", "accuracy_pct",
              "quality_source", "extrapolation", "tokens_per_s", "bound", "refetch_bytes_per_token", "peer",
              "peer_loss_nats", "peer_tokens_per_s", "speedup", "energy_ratio"]
    md = ["# Hypothetical looped models on edge chips at equal estimated quality", "",
          "Every looped design (begin - middle x loops - end, `nK` = K hyper-connected residual streams) is "
          "compared with the dense model of equal estimated quality at the same width and training tokens "
          "(N_dense = N_once + r^phi N_rec; the recurrence law of arXiv 2604.21106v3, phi 0.459 for plain "
          "looping and 0.646 with hyper-connections). Decode at batch 1 after a "
          f"{grid.prompt_len}-token prompt, {grid.gen_len} tokens, event simulation. Scaling-law estimates are "
          "labelled with their phi and kept apart from published scores; `extrapolation` names where a design "
          "leaves the law's fitted range (20 effective layers, r <= 8, <= 1.14B unique parameters).", "",
          "## Conclusion", "", *[p + "\n" for p in paragraphs],
          "## Best looped shape per chip (published phi)", "",
          markdown_table(win, ["chip", "design", "quant", "peer", "tokens_per_s", "peer_tokens_per_s", "speedup",
                               "energy_ratio", "bound", "block_bytes", "sram_bytes", "why", "share_winning"]), "",
          "## How the answer moves across phi (one phi for every design)", "",
          markdown_table(sens, ["chip", "phi", "design", "quant", "speedup", "share_winning"]), "",
          "## Results", "", markdown_table(frame, detail), ""]
    if len(published):
        md += ["## Published looped models (quality as published, not from the law)", "",
               markdown_table(published, ["chip", "design", "quant", "unique_params", "loss_nats", "accuracy_pct",
                                          "quality_source", "tokens_per_s", "bound"]), ""]
    (out_dir / "report.md").write_text("\n".join(md))
    manifest = build_manifest({"preset": NAME, "grid": repr(grid)}, command)
    manifest["seconds"] = round(time.perf_counter() - start, 1)
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return paragraphs
