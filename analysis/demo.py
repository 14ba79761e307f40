"""Run the built-in two-centre demo (same as `radval demo`).

    python analysis/demo.py --out radval-demo [--small] [--no-report]

Generates the synthetic study (analysis/study.yaml describes it), extracts the
features, selects and fits the models, evaluates them in every cohort and renders the
report; prints where everything is and the cohort x model AUC table.
"""

from __future__ import annotations

import sys

from radval.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["demo", *sys.argv[1:]]))
