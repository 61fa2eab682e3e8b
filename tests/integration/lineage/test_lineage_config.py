"""The OpenLineage client is imported only when some configuration of it exists.

Without any (no ``OPENLINEAGE*`` variable, no ``openlineage.yml`` in the working
directory or ``~/.openlineage``) a run neither emits nor pays the client's
import; with an ``openlineage.yml`` in the working directory, the client takes
over (here its file transport receives the run's events).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from support import REPO

RUN = """
import json, sys
from pathlib import Path
from pipeline import PipelineConfig, run_pipeline
Path("in.csv").write_text("id,value\\n1,a\\n2,b\\n")
result = run_pipeline(PipelineConfig(input_path=Path("in.csv"), output_path=Path("out.csv"),
                                     audit_path=Path("audit.jsonl")))
print(json.dumps({"success": result.success,
                  "client_loaded": "openlineage.client" in sys.modules}))
"""


def _run(cwd: Path) -> dict[str, bool]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENLINEAGE")}
    env["HOME"] = str(cwd)  # no ~/.openlineage/openlineage.yml from the real home
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO / "src"), env.get("PYTHONPATH")]))
    done = subprocess.run(
        [sys.executable, "-c", RUN], cwd=cwd, env=env, capture_output=True, text=True, check=True
    )
    result: dict[str, bool] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_unconfigured_runs_do_not_load_the_client(tmp_path: Path) -> None:
    outcome = _run(tmp_path)
    assert outcome == {"success": True, "client_loaded": False}
    assert not list(tmp_path.glob("*.spool.jsonl"))


def test_an_openlineage_yml_in_the_working_directory_turns_it_on(tmp_path: Path) -> None:
    (tmp_path / "openlineage.yml").write_text(
        "transport:\n  type: file\n  log_file_path: events.jsonl\n  append: true\n"
    )
    outcome = _run(tmp_path)
    assert outcome == {"success": True, "client_loaded": True}
    events = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    assert [e["eventType"] for e in events] == ["START", "COMPLETE"]
