"""Markdown tables of the results in benchmarks/results/*.json, for BENCHMARKS.md.

    python benchmarks/tables.py
"""

from __future__ import annotations

import json
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def throughput(result: dict) -> str:
    rows = ["| case | images/s (median) | GMAC/s | of matmul peak |", "|---|---:|---:|---:|"]
    for name, rate in result["images_per_s"].items():
        gmacs = result.get("gmac_per_s", {}).get(name)
        peak = result.get("fraction_of_matmul_peak", {}).get(name)
        rows.append(f"| {name} | {rate:.1f} | {'' if gmacs is None else f'{gmacs:.1f}'} | "
                    f"{'' if peak is None else f'{peak:.0%}'} |")
    if result["ratios"]:
        rows += ["", "| ratio (per round, same conditions) | median | range |", "|---|---:|---:|"]
        rows += [f"| {pair} | **{r['median']:.3f}x** | {r['min']:.3f}-{r['max']:.3f} |" for pair, r in result["ratios"].items()]
    return "\n".join(rows)


def main() -> None:
    for path in sorted(RESULTS.glob("*.json")):
        result = json.loads(path.read_text())
        machine = result["machine"]
        print(f"### {result['benchmark']}\n\n`{result['command'].strip()}`: {machine['cpu']}, {machine['cores']} cores, "
              f"TensorFlow {machine['tensorflow']}, Keras {machine['keras']}"
              + (f", torch {machine['torch']}" if "torch" in machine else "")
              + (f"; {result['runs']} alternating rounds" if "runs" in result else "") + "\n")
        if "images_per_s" in result and isinstance(result["images_per_s"], dict):
            print(throughput(result) + "\n")
        else:
            print("```json\n" + json.dumps({k: v for k, v in result.items() if k not in ("machine", "command")}, indent=1)[:1500] + "\n```\n")


if __name__ == "__main__":
    main()
