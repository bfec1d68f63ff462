# Two commands do all set-up: `make demo` and `make test`. Both bootstrap the virtual
# environment from uv.lock first (uv itself is installed with pip when missing).
UV ?= $(shell command -v uv 2>/dev/null || echo "$(HOME)/.local/bin/uv")
export UV_LINK_MODE := copy

.PHONY: demo test lint typecheck unit bootstrap serve

bootstrap:
	@command -v uv >/dev/null 2>&1 || test -x "$(UV)" || python3 -m pip install --user --quiet uv
	@$(UV) sync --frozen --quiet

demo: bootstrap
	@$(UV) run --frozen loopline demo

serve: bootstrap
	@$(UV) run --frozen loopline serve

lint: bootstrap
	@$(UV) run --frozen ruff check src tests
	@$(UV) run --frozen lint-imports

typecheck: bootstrap
	@$(UV) run --frozen mypy

# Tests also run segment queries in an embedded ClickHouse (chDB, about 530 MB), kept in its
# own dependency group so `make demo` does not download it.
unit: bootstrap
	@$(UV) run --frozen --group clickhouse pytest

test: lint typecheck unit
