"""A plain run imports only what it uses: no quality engine, rich, cryptography or YAML.

Each check runs a fresh interpreter, since this test process has long imported
everything; the child imports the same ``pipeline`` package as this process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import pipeline
from pipeline.progress import make_progress

SRC = Path(pipeline.__file__).resolve().parents[1]

# What a run without quality rules, signing key or progress display never needs.
DEFERRED = (
    "cryptography",
    "pipeline.quality",
    "pipeline.quality.engine",
    "pipeline.spec_check",
    "yaml",
)


def _loaded_after(statement: str, names: tuple[str, ...]) -> list[str]:
    """Which of ``names`` are in ``sys.modules`` after ``statement`` in a new interpreter."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), env.get("PYTHONPATH", "")]))
    code = (
        f"import json, sys\n{statement}\n"
        "assert sys.modules['pipeline'].__file__.startswith(sys.argv[1]), "
        "sys.modules['pipeline'].__file__\n"
        f"print(json.dumps([n for n in {list(names)!r} if n in sys.modules]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(SRC)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    loaded: list[str] = json.loads(done.stdout)
    return loaded


def test_public_api_import_defers_heavy_modules() -> None:
    statement = "from pipeline import PipelineConfig, run_pipeline"
    assert _loaded_after(statement, ("rich", *DEFERRED)) == []


def test_cli_import_defers_heavy_modules() -> None:
    # The CLI prints with rich, so only rich is expected here.
    assert _loaded_after("import pipeline.cli", DEFERRED) == []


def test_names_are_listed_and_unknown_names_fail() -> None:
    assert sorted(pipeline._SOURCES) == pipeline.__all__
    assert set(pipeline.__all__) <= set(dir(pipeline))
    with pytest.raises(AttributeError, match="no_such_name"):
        pipeline.no_such_name  # noqa: B018 - the attribute access is the test


def test_enabled_progress_still_reports() -> None:
    with make_progress(True) as progress, progress.stage("read", total=4) as stage:
        stage.advance(4)


def test_a_small_run_never_imports_numpy(tmp_path: Path) -> None:
    # NumPy counts bytes in large blocks only; its import (~90 ms) would cost a
    # small file more than counting saves.
    src = Path(__file__).resolve().parents[2] / "data" / "sample_input.csv"
    statement = (
        "from pathlib import Path\n"
        "from pipeline import PipelineConfig, run_pipeline\n"
        f"r = run_pipeline(PipelineConfig(input_path=Path({str(src)!r}), "
        f"output_path=Path({str(tmp_path / 'out.csv')!r}), "
        f"audit_path=Path({str(tmp_path / 'audit.jsonl')!r})))\n"
        "assert r.success, r.errors"
    )
    assert _loaded_after(statement, ("numpy", "rich", *DEFERRED)) == []


def test_first_use_from_two_threads_at_once() -> None:
    # pipeline.audit's modules import each other: two threads importing them at the
    # same moment got "partially initialized module" ImportErrors (17 of 20 runs).
    code = (
        "import threading, pipeline\n"
        "names = ['AuditLogger', 'AuditEntry']\n"
        "barrier = threading.Barrier(len(names))\n"
        "errors = []\n"
        "def get(name):\n"
        "    barrier.wait()\n"
        "    try:\n"
        "        getattr(pipeline, name)\n"
        "    except Exception as exc:\n"
        "        errors.append(repr(exc))\n"
        "threads = [threading.Thread(target=get, args=(n,)) for n in names]\n"
        "[t.start() for t in threads]\n"
        "[t.join() for t in threads]\n"
        "assert not errors, errors\n"
    )
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), env.get("PYTHONPATH", "")]))
    for _ in range(8):
        done = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, done.stderr[-2000:]


def test_subpackages_are_attributes_after_import_pipeline() -> None:
    statement = (
        "import pipeline\n"
        "assert callable(pipeline.audit.verify_log)\n"
        "assert pipeline.io.open_source and pipeline.schema.validate and pipeline.lineage\n"
    )
    assert _loaded_after(statement, ()) == []
