"""The churn scenario's resident set against time (tests/chaos/test_churn.py writes the
samples): docs/reliability/churn-rss.png, with the second half's least-squares line, and the
run's numbers copied to docs/reliability/churn-results.json (``make chaos-churn`` runs this
after the test)."""

import csv
import json
import os
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LOG_DIR = Path(os.environ.get("E2E_LOG_DIR", REPO / ".e2e-logs"))
OUT = REPO / "docs" / "reliability"


def main() -> int:
    samples_path, results_path = LOG_DIR / "chaos-churn-rss.csv", LOG_DIR / "chaos-churn-results.json"
    if not samples_path.exists() or not results_path.exists():
        print(f"no churn run in {LOG_DIR}", file=sys.stderr)
        return 1
    OUT.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(results_path, OUT / "churn-results.json")
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plot", file=sys.stderr)
        return 0
    with samples_path.open() as handle:
        rows = [(float(r["seconds"]), float(r["rss_mib"])) for r in csv.DictReader(handle)]
    results = json.loads(results_path.read_text())
    figure, axes = plt.subplots(figsize=(9, 4.5))
    axes.plot([t / 60 for t, _ in rows], [m for _, m in rows], linewidth=1, label="operator RSS (VmRSS)")
    slope = results.get("rss slope over the second half (MiB/min)")
    window = results.get("churn window (s after sampling began)")
    if window:
        start, end = window
        axes.axvspan(start / 60, end / 60, alpha=0.08, label="churn")
        axes.axvspan((start + end) / 120, end / 60, alpha=0.12, color="tab:orange", label="slope fitted here")
    axes.set_xlabel("minutes since sampling began")
    axes.set_ylabel("MiB")
    axes.set_title(
        f"churn: {results.get('objects created and deleted')} objects in {results.get('churn took (s)')} s;"
        f" slope over the second half {slope} MiB/min"
    )
    axes.set_ylim(bottom=0)
    axes.grid(alpha=0.3)
    axes.legend(loc="lower right")
    figure.tight_layout()
    figure.savefig(OUT / "churn-rss.png", dpi=110)
    print(f"wrote {OUT / 'churn-rss.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
