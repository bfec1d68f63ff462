"""Opening the embedded stores loads no data-frame library; a server loads DuckDB's before it serves.

DuckDB's client imports pandas (75 MB, about a second) the first time any Python value is
bound to a query. A process that only opens the stores and runs campaigns never needs it;
a server that takes events would otherwise load it on its first request, and the events
arriving meanwhile wait seconds (the triggers benchmark's p99 went from 74 ms to 4 s).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

OPEN_THEN_SERVE = """
import sys
from pathlib import Path
from loopline.bootstrap import build_runtime, open_services
from loopline.config import Settings
settings = Settings(data_dir=Path(sys.argv[1]))
for _ in range(2):  # the first opening migrates the stores, the second finds them current
    open_services(settings).close()
print("opened", "pandas" in sys.modules)
runtime = build_runtime(settings)
runtime.start()
print("serving", "pandas" in sys.modules)
runtime.stop()
"""


def test_opening_the_stores_loads_no_pandas_and_a_server_loads_it_before_it_serves(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-c", OPEN_THEN_SERVE, str(tmp_path)], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-2:] == ["opened False", "serving True"]
