#!/usr/bin/env bash
# Markdown report and gnuplot PNGs from the benchmark JSON: bench/report/report.sh [--results DIR]
exec /usr/bin/python3 "$(dirname "$0")/report.py" "$@"
