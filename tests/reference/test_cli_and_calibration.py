"""`hwsim validate reference` end to end, and the calibrated CPU spec document."""

import yaml
from click.testing import CliRunner

from hwsim.cli import main
from hwsim.reference.calibrate_local import LocalMeasurements, hardware_document
from hwsim.spec.loader import load_hardware


def test_validate_reference_passes_for_a_looped_model():
    result = CliRunner().invoke(main, ["validate", "reference", "--model", "ouro-1.4b"])
    assert result.exit_code == 0, result.output
    assert "PASS  trace decode" in result.output and "PASS: 0 failed" in result.output


def test_validate_reference_bad_scale_is_one_line_error():
    result = CliRunner().invoke(main, ["validate", "reference", "--model", "trm", "--scale", "huge"])
    assert result.exit_code == 2 and "scale: unknown 'huge'" in result.output


def test_validate_local_needs_a_calibrated_spec():
    result = CliRunner().invoke(main, ["validate", "local", "--model", "llama-3.2-1b"])
    assert result.exit_code == 2 and "hwsim calibrate local --out" in result.output


def test_calibrated_document_loads_as_a_cpu_spec(tmp_path):
    measured = LocalMeasurements({256: 2e10, 512: 5e10}, 4e9, 1.2e10, 9e9, 3e-6, 16e9)
    path = tmp_path / "local.yaml"
    path.write_text(yaml.safe_dump(hardware_document(measured)))
    spec = load_hardware(str(path))
    assert spec.device_class == "cpu"
    assert spec.matrix.peak["fp32"] == 5e10
    assert spec.dram.bandwidth_bytes_per_s == 1.2e10 and spec.dram.efficiency == 0.75
    assert spec.overhead.op_launch_s == 3e-6
    assert spec.source.startswith("measured on this machine by hwsim calibrate local, ")
