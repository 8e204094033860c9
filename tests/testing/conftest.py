import pytest


@pytest.fixture(autouse=True)
def _report_dir(app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "LABBOOK_REPORT_DIR", str(tmp_path / "reports"))
