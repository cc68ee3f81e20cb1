# Sourced by the launch scripts: the interpreter maple_mm is installed in.
# PYTHON wins; else the checkout's .venv (what `make` creates); else `python` on PATH.
# An interpreter without torch stops here with one line saying what to set (torch is
# looked up, not imported: an import costs seconds, and the workers import it anyway).
if [ -z "${PYTHON:-}" ]; then
    if [ -x "$TOOLS/../.venv/bin/python" ]; then
        PYTHON="$TOOLS/../.venv/bin/python"
    else
        PYTHON=python
    fi
fi
if ! "$PYTHON" -c 'import importlib.util as u, sys; sys.exit(u.find_spec("torch") is None)' \
        >/dev/null 2>&1; then
    echo "error: $PYTHON ($(command -v "$PYTHON" || echo 'not found')) cannot import torch;" \
         "set PYTHON=/path/to/env/bin/python, the environment maple_mm is installed in" \
         "(e.g. PYTHON=.venv/bin/python after make install)." >&2
    exit 1
fi
