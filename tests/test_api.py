"""The README's "Python API" example runs as written (tiny: synthetic data, one epoch) without the CLI, and
`import fer_bench` stays cheap (no TensorFlow)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def readme_api_example() -> str:
    text = README.read_text(encoding="utf8")
    section = text.split("## Python API", 1)[1].split("\n## ", 1)[0]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


CHECKS = '''
import sys
assert "fer_bench.cli" not in sys.modules, "the API must not import the CLI"
assert outcome.config.model == "lenet5" and (outcome.folder / "model.keras").is_file()
assert 0.0 <= outcome.metrics["in_domain"]["accuracy"] <= 1.0
assert len(outcomes) == 2 and sum(o.skipped for o in outcomes) == 1  # conservative is the run above
assert {o.config.balance for o in outcomes} == {"simple", "conservative"}
assert metrics["n"] > 0 and metrics["fer_bench_model"]
assert len(board) == 2 and set(board["balance"]) == {"simple", "conservative"}
assert fb.get_model("vgg_16").name == "vgg16"
print("API-OK")
'''


def test_readme_api_example_runs_without_cli(tmp_path):
    code = readme_api_example() + CHECKS
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "API-OK" in proc.stdout


def test_import_is_cheap():
    code = ("import sys, fer_bench; fer_bench.RunConfig; fer_bench.load_sweep; "
            "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules and 'fer_bench.cli' not in "
            "sys.modules, sorted(m for m in sys.modules if m.startswith(('tensorflow', 'keras', 'fer_bench.cli')))")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
