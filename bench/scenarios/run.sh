#!/usr/bin/env bash
# Runs the benchmark scenarios (see bench/README.md): bench/scenarios/run.sh [--only NAME] [--quick] [--out DIR]
# Debian's python3, not a pyenv one on PATH: the runner needs only the standard library, but the
# peers' Python side needs Debian's packages, so every bench script uses the same interpreter.
exec /usr/bin/python3 "$(dirname "$0")/run.py" "$@"
