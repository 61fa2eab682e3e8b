"""load_model: module:Model references and the ConfigError for bad ones."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from pipeline.errors import ConfigError
from pipeline.schema import load_model


@pytest.fixture
def model_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    pkg = tmp_path / "mymodels_pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "claims.py").write_text(
        "from pydantic import BaseModel\n"
        "class Claim(BaseModel):\n    claim_id: str\n"
        "class NotAModel:\n    pass\n"
        "value = 3\n"
    )
    (pkg / "broken.py").write_text("raise RuntimeError('boom')\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    yield tmp_path
    for name in [m for m in sys.modules if m.startswith("mymodels_pkg")]:
        del sys.modules[name]


def test_loads_model_from_current_directory(model_dir: Path) -> None:
    model = load_model("mymodels_pkg.claims:Claim")
    assert model.__name__ == "Claim"
    assert set(model.model_fields) == {"claim_id"}


@pytest.mark.parametrize(
    ("reference", "fragment"),
    [
        ("mymodels_pkg.claims", "not of the form module:Model"),
        (":Claim", "not of the form module:Model"),
        ("mymodels_pkg.nope:Claim", "cannot be found"),
        ("mymodels_pkg.claims:Missing", "has no attribute 'Missing'"),
        ("mymodels_pkg.claims:NotAModel", "is not a Pydantic model class"),
        ("mymodels_pkg.claims:value", "is not a Pydantic model class"),
        ("mymodels_pkg.broken:Claim", "importing module 'mymodels_pkg.broken' failed"),
    ],
)
def test_bad_reference_is_config_error_naming_it(
    model_dir: Path, reference: str, fragment: str
) -> None:
    with pytest.raises(ConfigError) as info:
        load_model(reference)
    message = str(info.value)
    assert reference in message
    assert fragment in message
    assert "Hint:" in message
    assert info.value.exit_code == 2
