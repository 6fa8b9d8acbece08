"""One small report, built once for the report tests."""

from pathlib import Path

import pytest

TINY = Path(__file__).parent / "tiny-report.yaml"


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory):
    from hwsim.report.collect import from_preset

    return from_preset(str(TINY), tmp_path_factory.mktemp("tiny-run"), jobs=1, progress=False)


@pytest.fixture(scope="session")
def tiny_report(tiny_data, tmp_path_factory):
    from hwsim.report.document import write_report

    return write_report(tiny_data, tmp_path_factory.mktemp("tiny-report"), ["hwsim", "report", "--preset", "tiny"])
