"""Opening the embedded stores loads no data-frame library: a process that only runs campaigns stays small."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

OPEN_TWICE = """
import sys
from pathlib import Path
from loopline.bootstrap import open_services
from loopline.config import Settings
for _ in range(2):  # the first opening migrates the stores, the second finds them current
    open_services(Settings(data_dir=Path(sys.argv[1]))).close()
print(sorted(name for name in ("pandas", "polars") if name in sys.modules))
"""


def test_opening_the_embedded_stores_does_not_import_pandas(tmp_path: Path) -> None:
    # DuckDB's client imports pandas (75 MB) the first time any Python value is bound to a
    # query; the stores' start-up binds none. A fresh interpreter, so nothing else loaded it.
    done = subprocess.run([sys.executable, "-c", OPEN_TWICE, str(tmp_path)], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"
