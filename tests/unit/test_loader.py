"""The strict loader: every preset loads; each kind of bad input gives one message naming the file
and the field; overrides; and a property-based fuzz that it never raises anything but ConfigError."""

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hwsim.cli import main
from hwsim.cli.options import parse_sets
from hwsim.errors import ConfigError
from hwsim.spec import loader
from hwsim.units import MiB

HARDWARE_PRESETS = loader.list_presets(loader.HARDWARE_DIR)
MODEL_PRESETS = loader.list_presets(loader.MODELS_DIR)


def _template() -> dict:
    return loader.read_document(loader.HARDWARE_DIR / "edge-npu.yaml")


def _write(tmp_path: Path, data, name="bad.yaml") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False))
    return path


def _error(path) -> str:
    with pytest.raises(ConfigError) as info:
        loader.load_hardware(str(path))
    message = str(info.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize("path", HARDWARE_PRESETS, ids=lambda p: p.stem)
def test_every_hardware_preset_loads(path):
    assert loader.load_hardware(path.stem).name == path.stem


@pytest.mark.parametrize("path", MODEL_PRESETS, ids=lambda p: p.stem)
def test_every_model_preset_loads(path):
    assert loader.load_model(path.stem).name


# ---- the acceptance case: a size where a rate belongs --------------------------------------

def _size_as_rate(tmp_path) -> Path:
    data = _template()
    data["memory"]["dram"]["bandwidth"] = "68 GB"
    return _write(tmp_path, data)


def test_size_where_rate_belongs_names_file_and_field(tmp_path):
    message = _error(_size_as_rate(tmp_path))
    assert message.startswith(str(tmp_path / "bad.yaml") + ": ")
    assert "memory.dram.bandwidth: '68 GB' is a size, expected a data rate" in message


def test_cli_show_rejects_it_with_one_line_and_exit_2(tmp_path):
    path = _size_as_rate(tmp_path)
    result = CliRunner().invoke(main, ["show", str(path)])
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "bad.yaml" in lines[0] and "memory.dram.bandwidth" in lines[0]
    assert lines[0].startswith("hwsim: error: ")


def test_installed_entry_point_rejects_it_without_traceback(tmp_path):
    path = _size_as_rate(tmp_path)
    run = subprocess.run([sys.executable, "-c", "from hwsim.cli import main; main()", "show", str(path)],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2
    assert "Traceback" not in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1
    assert "bad.yaml" in run.stderr and "memory.dram.bandwidth" in run.stderr


# ---- each kind of bad input ----------------------------------------------------------------

def test_unknown_key(tmp_path):
    data = _template()
    data["memory"]["dram"]["colour"] = "red"
    assert "memory.dram.colour: unknown field" in _error(_write(tmp_path, data))


def test_unknown_top_level_key(tmp_path):
    data = {**_template(), "vendor": "acme"}
    assert "vendor: unknown field" in _error(_write(tmp_path, data))


def test_duplicate_key_names_line(tmp_path):
    text = (loader.HARDWARE_DIR / "edge-npu.yaml").read_text() + "name: again\n"
    message = _error(_write(tmp_path, text))
    assert "bad.yaml" in message and "duplicate key 'name'" in message and "line" in message


def test_duplicate_key_in_json(tmp_path):
    path = _write(tmp_path, '{"name": "a", "name": "b"}', "bad.json")
    assert "duplicate key 'name'" in _error(path)


def test_missing_required_field(tmp_path):
    data = _template()
    del data["power"]["source"]
    del data["process_node"]
    message = _error(_write(tmp_path, data))
    assert "power.source: required field is missing" in message
    assert "process_node: required field is missing" in message


@pytest.mark.parametrize("path,value,says", [
    ("compute.matrix.tile_m", "lots", "compute.matrix.tile_m"),
    ("compute.matrix.tile_m", 0, "compute.matrix.tile_m"),
    ("class", "toaster", "class"),
    ("memory.dram.kind", "flash", "memory.dram.kind"),
    ("memory.dram.capacity", 8, "memory.dram.capacity: 8 has no unit"),
    ("memory.dram.efficiency", 1.5, "memory.dram.efficiency"),
    ("compute.matrix.peak", {"int3": "1 TOPS"}, "compute.matrix.peak.int3"),
    ("power", "10 W", "power"),
    ("memory", [], "memory"),
])
def test_wrong_type_or_value(tmp_path, path, value, says):
    data = loader.apply_overrides(_template(), {path: value}, "t")
    message = _error(_write(tmp_path, data))
    assert "bad.yaml: " in message and says in message


def test_invalid_yaml_syntax(tmp_path):
    message = _error(_write(tmp_path, "name: edge\ncompute: [unclosed\n"))
    assert "bad.yaml: invalid YAML at line" in message


def test_invalid_json_syntax(tmp_path):
    assert "invalid JSON at line 1" in _error(_write(tmp_path, '{"name": ', "bad.json"))


@pytest.mark.parametrize("text,kind", [("- a\n- b\n", "list"), ("just text\n", "str"), ("42\n", "int")])
def test_non_mapping_top_level(tmp_path, text, kind):
    assert f"expected a mapping at the top level, got {kind}" in _error(_write(tmp_path, text))


def test_empty_file(tmp_path):
    assert "bad.yaml: the file is empty; expected a mapping of fields" in _error(_write(tmp_path, ""))


def test_unhashable_key(tmp_path):
    assert "cannot be a mapping key" in _error(_write(tmp_path, "? [1, 2]\n: 3\n"))


def test_unsafe_tag_is_rejected(tmp_path):
    assert "invalid YAML" in _error(_write(tmp_path, "name: !!python/object/apply:os.system ['true']\n"))


def test_several_errors_collected_in_one_message(tmp_path):
    data = _template()
    data["memory"]["dram"]["bandwidth"] = "68 GB"
    data["power"]["tdp"] = "15 GHz"
    data["compute"]["matrix"]["speed"] = "fast"
    message = _error(_write(tmp_path, data))
    assert "3 problems" in message
    for field in ("memory.dram.bandwidth", "power.tdp", "compute.matrix.speed: unknown field"):
        assert field in message


def test_spec_level_rule_is_reported(tmp_path):
    data = _template()
    data["memory"]["l3"] = dict(data["memory"]["sram"])
    assert "at most one sram level" in _error(_write(tmp_path, data))


def test_missing_file_and_unknown_preset():
    with pytest.raises(ConfigError, match="no such file"):
        loader.load_hardware("nowhere/missing.yaml")
    with pytest.raises(ConfigError, match="unknown hardware 'no-such-chip'; list them with `hwsim list hardware`"):
        loader.load_hardware("no-such-chip")
    with pytest.raises(ConfigError, match=r"unknown hardware 'edge-npv' \(did you mean edge-npu\?\)$"):
        loader.load_hardware("edge-npv")


def test_preset_name_is_case_insensitive():
    assert loader.load_hardware("Edge-NPU").name == "edge-npu"


# ---- overrides (what `--set` does) ----------------------------------------------------------

def test_overrides_change_only_the_named_fields():
    base = loader.load_hardware("edge-npu")
    hw = loader.load_hardware("edge-npu", {"memory.sram.capacity": "16 MiB", "compute.matrix.peak.int8": "10 TOPS"})
    assert hw.sram.capacity_bytes == 16 * MiB
    assert hw.matrix.peak["int8"] == 10e12
    assert hw.dram == base.dram and hw.power == base.power
    assert loader.load_hardware("edge-npu").sram.capacity_bytes == 8 * MiB  # preset untouched


def test_set_option_aliases_feed_the_loader():
    overrides = parse_sets(("sram=2 MiB", "bandwidth='100 GB/s'", "compute.matrix.tile_m=32"))
    hw = loader.load_hardware("edge-npu", overrides)
    assert hw.sram.capacity_bytes == 2 * MiB
    assert hw.dram.bandwidth_bytes_per_s == 100e9
    assert hw.matrix.tile_m == 32


def test_bad_override_value_names_field():
    with pytest.raises(ConfigError, match=r"edge-npu\.yaml: memory\.sram\.capacity: '8 GB/s' is a data rate"):
        loader.load_hardware("edge-npu", {"memory.sram.capacity": "8 GB/s"})


def test_override_through_a_scalar_is_rejected():
    with pytest.raises(ConfigError, match="name.first: name is not a mapping"):
        loader.load_hardware("edge-npu", {"name.first": "x"})


def test_override_creating_an_incomplete_level_is_rejected():
    with pytest.raises(ConfigError, match="memory.hbm.kind: required field is missing"):
        loader.load_hardware("edge-npu", {"memory.hbm.capacity": "1 GB"})


def test_override_with_unknown_field_is_rejected():
    with pytest.raises(ConfigError, match="memory.sram.speed: unknown field"):
        loader.load_hardware("edge-npu", {"memory.sram.speed": "fast"})


def test_set_option_without_equals_is_rejected():
    with pytest.raises(ConfigError, match="expected PATH=VALUE"):
        parse_sets(("memory.sram.capacity",))


# ---- property-based fuzz: only ConfigError (or success) ----------------------------------

_QUANTITIES = st.sampled_from(["68 GB/s", "68 GB", "4 MiB", "1.5 GHz", "15 W", "2 us", "-1 W", "nan B",
                               "1 2 B", "20 TFLOP/s", "9**9 B", "", "GB/s", "0 s"])
_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70),
                     st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=20), _QUANTITIES)
_KEYS = st.one_of(st.sampled_from(["name", "class", "compute", "memory", "power", "overhead", "source", "kind",
                                   "peak", "dram", "sram", "matrix", "capacity", "bandwidth", "fp16", "int8",
                                   "blocks", "attention", "mlp", "loop", "quant", "schedule", "family"]),
                  st.text(max_size=10))
_VALUES = st.recursive(_SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                         st.dictionaries(_KEYS, inner, max_size=5)), max_leaves=25)
_FUZZ = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _load_both(path: Path) -> None:
    """Load `path` as hardware and as a model: each either succeeds or raises ConfigError."""
    for load in (loader.load_hardware, loader.load_model):
        try:
            load(str(path))
        except ConfigError as exc:
            assert str(exc) and "\n" not in str(exc)


def _dump(value) -> str:
    return yaml.safe_dump(value, allow_unicode=True)


@_FUZZ
@given(document=st.one_of(st.dictionaries(_KEYS, _VALUES, max_size=8), _VALUES))
def test_fuzz_random_documents(document):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.yaml"
        path.write_text(_dump(document))
        _load_both(path)
        json_path = Path(folder) / "fuzz.json"
        json_path.write_text(json.dumps(document))
        try:
            loader.load_hardware(str(json_path))
        except ConfigError:
            pass


def _paths(node, prefix=()):
    """Every (path, container) pair in a nested document."""
    yield prefix
    if isinstance(node, dict):
        for key, child in node.items():
            yield from _paths(child, prefix + (key,))
    elif isinstance(node, list):
        for index, child in enumerate(node):
            yield from _paths(child, prefix + (index,))


def _mutate(document, path, action, value):
    if not path:
        return value
    parent = document
    for part in path[:-1]:
        parent = parent[part]
    if action == "delete":
        del parent[path[-1]]
    elif action == "add" and isinstance(parent, dict):
        parent[f"{path[-1]}_extra"] = value
    else:
        parent[path[-1]] = value
    return document


_VALID = sorted(HARDWARE_PRESETS[:3] + [loader.HARDWARE_DIR / "edge-npu.yaml", loader.HARDWARE_DIR / "groq-lpu.yaml"]
                + MODEL_PRESETS[:4])


@_FUZZ
@given(data=st.data(), preset=st.sampled_from(_VALID),
       action=st.sampled_from(["replace", "delete", "add"]), value=_VALUES)
def test_fuzz_mutations_of_valid_presets(data, preset, action, value):
    document = loader.read_document(preset)
    path = data.draw(st.sampled_from(list(_paths(document))))
    mutated = _mutate(document, path, action, value)
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / preset.name
        target.write_text(_dump(mutated))
        _load_both(target)


@_FUZZ
@given(data=st.data(), preset=st.sampled_from(_VALID))
def test_fuzz_text_edits_of_valid_presets(data, preset):
    text = preset.read_text()
    position = data.draw(st.integers(0, len(text)))
    cut = data.draw(st.integers(0, 20))
    insert = data.draw(st.text(alphabet=st.sampled_from(list(":-[]{}#&*!|>'\"%@`?, \n\t0123456789abcdGBs/.")), max_size=8))
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / preset.name
        target.write_text(text[:position] + insert + text[position + cut:])
        _load_both(target)
