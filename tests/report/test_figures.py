"""Every figure is built, titled, labelled with units, and written as a non-blank PNG."""

import re

import pytest

from hwsim.report import figures

UNIT = re.compile(r"\(.+\)")
PLAIN = [d for d in figures.FIGURES if d.name not in figures.EQUAL_QUALITY]   # the tiny report's figures


@pytest.mark.parametrize("definition", PLAIN, ids=lambda d: d.name)
def test_figure_has_title_axis_labels_with_units_and_legend(tiny_data, definition):
    check_figure(definition, tiny_data)


def check_figure(definition, data):
    figure = definition.build(data)
    assert figure is not None, f"{definition.name}: nothing drawn for the tiny report"
    assert figure._suptitle is not None and figure._suptitle.get_text().strip()
    visible = [ax for ax in figure.axes if ax.get_visible()]
    assert visible
    for ax in visible:
        assert UNIT.search(ax.get_xlabel()), f"{definition.name}: x label {ax.get_xlabel()!r} has no (unit)"
        assert ax.get_ylabel().strip(), f"{definition.name}: no y label"
        assert ax.has_data()
    series = [h for ax in visible for h in ax.get_legend_handles_labels()[1] if not h.startswith("_")]
    legends = [ax.get_legend() for ax in visible if ax.get_legend()] + list(figure.legends)
    if len(set(series)) > 1:
        assert legends, f"{definition.name}: {len(set(series))} labelled series but no legend"


def test_numeric_y_axes_carry_units(tiny_data):
    """Lane and design axes are categories; every other y label names its unit."""
    for definition in PLAIN:
        if definition.name in ("timeline", "memory"):
            continue
        for ax in definition.build(tiny_data).axes:
            if ax.get_visible():
                assert UNIT.search(ax.get_ylabel()), f"{definition.name}: y label {ax.get_ylabel()!r}"


def test_written_pngs_exist_and_are_not_blank(tiny_report):
    from matplotlib.image import imread

    assert set(tiny_report.figures) == {d.name for d in PLAIN}
    for name, path in tiny_report.figures.items():
        assert path.is_file() and path.stat().st_size > 5_000, name
        pixels = imread(path)[..., :3]
        assert pixels.std() > 0.05, f"{name}: nearly uniform image"
        non_white = (pixels.min(axis=2) < 0.9).mean()
        # an empty 10x6 in axes with title and labels draws 0.85 % of its pixels
        assert non_white > 0.015, f"{name}: only {non_white:.1%} of pixels are drawn"


def test_decode_window_is_the_last_simulated_step(tiny_data):
    ops = tiny_data.focus.ops
    start, end = figures.decode_window(ops)
    decode = ops[ops["phase"] == "decode"]
    last = decode[decode["token_step"] == decode["token_step"].max()]
    assert start <= last["start_s"].min() and end == pytest.approx(last["end_s"].max())
    # the compute lane is serial: the step's ops fit in the window one after another
    assert end - start >= (last["end_s"] - last["start_s"]).sum() * (1 - 1e-9)


def test_step_intervals_are_the_last_decode_step(tiny_data):
    lines = figures.step_intervals(tiny_data.focus)
    ops = tiny_data.focus.ops
    last = ops.loc[ops["phase"] == "decode", "token_step"].max()
    assert len(lines) and set(lines["lane"]) >= {"matrix", "dma"}
    assert set(lines["token_step"]) == {last}
    # every op of that step is on the compute lanes once
    assert (lines["lane"] != "dma").sum() == ((ops["phase"] == "decode") & (ops["token_step"] == last)).sum()


def test_op_groups_and_repeating_block():
    assert figures.op_group("q", "matrix") == figures.op_group("o", "matrix")
    assert figures.op_group("expert3.gate", "matrix") == figures.op_group("down", "matrix")
    assert figures.op_group("exit_gate", "matrix") == "other matrix ops"
    assert figures.op_group("attn_score", "dma") == "attention over the KV cache"
    layer = ["norm", "q", "k", "attn_score", "o", "up", "down"]
    assert figures.repeating_block(["embed", *layer, *layer, *layer, "lm_head"]) == (1, len(layer))
    assert figures.repeating_block(["a", "b", "c"]) is None


def test_display_scale_picks_the_prefix_of_the_median():
    assert figures.display_scale("energy_per_token_j", [0.05, 0.08, 2.0]) == (1e-3, "mJ")
    assert figures.display_scale("tokens_per_s", [0.5, 80.0]) == (1.0, "tok/s")
    assert figures.display_scale("memory_footprint_bytes", [7e8, 2e9, 3e9]) == (1e9, "GB")
