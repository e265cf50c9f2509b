"""The conclusions of a study folder, and whether two runs reach the same ones.

A run's conclusions: RQ1's best model and modality set and every RQ1 AUC with its CI, each country's RQ3
winner (and whether it is significant after BH), and each RQ4 literature verdict. Two runs agree when the best
run is the same, every new RQ1 AUC lies inside the reference run's CI, and the RQ3 winners and RQ4 verdicts are
equal. ``benchmarks/reference/study_twin.json`` holds the conclusions and the time of the main command before
the speed work (issue 17); ``benchmarks/study_twin.py`` compares each new run with it.

Usage: python benchmarks/study_conclusions.py RUN_DIR [--seconds S] [--write FILE]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd


def conclusions(run: Path) -> dict:
    """The conclusions of the study written to ``run``."""
    rq1 = pd.read_csv(run / "rq1_table.csv")
    auc = rq1[rq1["metric"] == "roc_auc"].sort_values("value", ascending=False)
    best = auc.iloc[0]
    winners = pd.read_csv(run / "rq3_winners.csv")
    verdicts = pd.read_csv(run / "rq4_literature.csv")
    return {
        "best": {"model": best["model"], "modalities": best["modalities"], "auc": float(best["value"])},
        "rq1_auc": {f"{r.model}[{r.modalities}]": [float(r.value), float(r.ci_low), float(r.ci_high)]
                    for r in auc.itertuples()},
        "rq3_winners": {r.country: {"winner": r.winner, "significant": bool(r.significant)}
                        for r in winners.itertuples()},
        "rq4_verdicts": {f"{r.feature}~{r.dimension}": r.verdict for r in verdicts.itertuples()},
    }


def differences(new: dict, reference: dict) -> list[str]:
    """What differs between two runs' conclusions (empty when they agree)."""
    found = []
    if (new["best"]["model"], new["best"]["modalities"]) != (reference["best"]["model"],
                                                             reference["best"]["modalities"]):
        found.append(f"best run {new['best']} vs {reference['best']}")
    for run, (low, high) in ((k, v[1:]) for k, v in reference["rq1_auc"].items()):
        value = new["rq1_auc"].get(run, [None])[0]
        if value is None or not low <= value <= high:
            found.append(f"RQ1 {run}: AUC {value} outside the reference CI [{low:.4f}, {high:.4f}]")
    for key in ("rq3_winners", "rq4_verdicts"):
        for name in sorted(set(new[key]) | set(reference[key])):
            if new[key].get(name) != reference[key].get(name):
                found.append(f"{key} {name}: {new[key].get(name)} vs {reference[key].get(name)}")
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("run", type=Path)
    parser.add_argument("--seconds", type=float, default=None, help="wall time of the run (for --write)")
    parser.add_argument("--write", type=Path, default=None, help="write the conclusions as a reference file")
    args = parser.parse_args()
    found = conclusions(args.run)
    if args.write:
        args.write.write_text(json.dumps({"seconds": args.seconds, **found}, indent=1, sort_keys=True) + "\n",
                              encoding="utf-8")
    print(json.dumps({"best": found["best"], "rq3_winners": found["rq3_winners"]}, sort_keys=True))


if __name__ == "__main__":
    main()
