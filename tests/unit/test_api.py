"""The public API of `import hwsim`: every exported name resolves and says what it does, and the
import itself stays cheap (no pandas, numpy or pydantic until a name is used)."""

import subprocess
import sys

import hwsim


def test_every_exported_name_resolves_with_a_docstring():
    assert set(hwsim.__all__) == {"__version__", "list_presets", *hwsim._API}
    for name in hwsim.__all__:
        value = getattr(hwsim, name)
        assert name == "__version__" or (value.__doc__ or "").strip(), name


def test_import_hwsim_loads_no_heavy_library():
    code = "import sys, hwsim; print(sorted({'pandas', 'numpy', 'pydantic'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_list_presets_names_the_shipped_presets():
    assert "ouro-1.4b" in hwsim.list_presets("model")
    assert "edge-npu" in hwsim.list_presets("hardware")
    assert "looped-vs-standard-edge" in hwsim.list_presets("report")
