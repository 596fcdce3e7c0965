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
        rows += [f"| {pair} | **{r['median']:.3f}x** | {r['min']:.3f}-{r['max']:.3f} |"
                 for pair, r in result["ratios"].items()]
    return "\n".join(rows)


def memory(results: list[dict]) -> str:
    rows = ["| model | API | resident after build | peak, batch-32 predict | growth, calls 100-1000 | slope |",
            "|---|---|---:|---:|---:|---:|"]
    for r in results:
        leak = r["leak_check"]
        rows.append(f"| {leak['model']} | `{leak['api']}` (batch {leak['batch']}) | {r['built_mib']:.0f} MiB | "
                    f"{r['peak_batch32_mib']:.0f} MiB | {leak['growth_mib']:+.1f} MiB | "
                    f"{leak['slope_kib_per_call']:+.2f} KiB/call |")
    return "\n".join(rows)


def soak(results: list[dict]) -> str:
    rows = ["| part | API | length | RSS settled | RSS at the end | growth | slope | bound | work done | verdict |",
            "|---|---|---:|---:|---:|---:|---:|---:|---|---|"]
    for r in results:
        work = f"top-1 {r['top1']:.1%}" if "top1" in r else f"test error {r['test_error']:.1%}"
        rows.append(f"| {r['part']} | `{r['api']}` | {r['count']:,} {r['units']} | {r['rss_settled_mib']:.0f} MiB "
                    f"({r['settled_from']}) | {r['rss_end_mib']:.0f} MiB | **{r['growth_mib']:+.1f} MiB** | "
                    f"{r['slope_kib_per_unit']:+.2f} KiB/{r['units'][:-1]} | {r['bound_mib']:.0f} MiB | {work} | "
                    f"{'pass' if r['passed'] else 'FAIL'} |")
    return "\n".join(rows)


def quantization(result: dict) -> str:
    rows = ["| model | runtime | top-1 Keras | top-1 int8 | drop | agreement | size int8 / float | batch 1 float / "
            "int8 | batch-1 speedup | batch 32 float / int8 | batch-32 speedup |", "|---|---|" + "---:|" * 9]

    def ratio(r: dict) -> str:
        return f"**{r['median']:.2f}x** ({r['min']:.2f}-{r['max']:.2f})"

    for model, formats in result["models"].items():
        for format, r in formats.items():
            b1, b32 = r["batch1_latency_ms"], r["batch32_images_per_s"]
            rows.append(
                f"| {model} | {format} | {r['keras_accuracy']:.2%} | {r['int8_accuracy']:.2%} | "
                f"{r['accuracy_drop']:+.2f} pt | {r['top1_agreement']:.1%} | {r['int8_bytes'] / 1024:.0f} / "
                f"{r['float_bytes'] / 1024:.0f} KiB = **{r['size_ratio']:.3f}x** | {b1['float']:.3f} / "
                f"{b1['int8']:.3f} ms | {ratio(r['batch1_speedup'])} | {b32['float']:.0f} / {b32['int8']:.0f} img/s | "
                f"{ratio(r['batch32_speedup'])} |")
    return "\n".join(rows)

def input_memory(result: dict) -> str:
    rows = [f"| case | file size | files | peak above baseline (max of {result['processes_per_case']} processes) |",
            "|---|---:|---:|---:|"]
    for case in result["cases"]:
        rows.append(f"| {case['case']} | {case['file_bytes'] / 2**20:.2f} MiB | {case['files']} | "
                    f"{case['peak_above_baseline_mib']:.1f} MiB |")
    return "\n".join(rows)


def startup(result: dict) -> str:
    rows = ["| command | median s (range) | / import tensorflow |", "|---|---:|---:|"]
    for name, t in result["seconds"].items():
        rows.append(f"| `{name}` | {t['median']:.3f} ({t['min']:.3f}-{t['max']:.3f}) | "
                    f"{result['ratio_to_import_tensorflow'][name]:.3f}x |")
    return "\n".join(rows)


def main() -> None:
    memories = [json.loads(p.read_text()) for p in sorted(RESULTS.glob("memory_*.json"))]
    if memories:
        print("### memory\n\n" + ", ".join(f"`{m['command'].strip()}`" for m in memories) +
              f": {memories[0]['machine']['cpu']}, {memories[0]['machine']['cores']} cores, one run each\n\n"
              + memory(memories) + "\n")
    soaks = [json.loads(p.read_text()) for p in sorted(RESULTS.glob("soak_*.json"))]
    if soaks:
        print("### soak\n\n" + ", ".join(dict.fromkeys(f"`{s['command'].strip()}`" for s in soaks)) +
              f": {soaks[0]['machine']['cpu']}, {soaks[0]['machine']['cores']} cores, one run each\n\n"
              + soak(soaks) + "\n")
    for path in sorted(RESULTS.glob("*.json")):
        result = json.loads(path.read_text())
        if result["benchmark"] in ("memory", "soak"):
            continue
        machine = result["machine"]
        print(f"### {result['benchmark']}\n\n`{result['command'].strip()}`: "
              f"{machine['cpu']}, {machine['cores']} cores, "
              f"TensorFlow {machine['tensorflow']}, Keras {machine['keras']}"
              + (f", torch {machine['torch']}" if "torch" in machine else "")
              + (f"; {result['runs']} alternating rounds" if "runs" in result else "") + "\n")
        if "images_per_s" in result and isinstance(result["images_per_s"], dict):
            print(throughput(result) + "\n")
        elif result["benchmark"] == "startup":
            print(startup(result) + "\n")
        elif result["benchmark"] == "input_memory":
            print(input_memory(result) + "\n")
        elif result["benchmark"] == "quantization":
            print(f"CPU features {', '.join(result['cpu_features'])}; {result['threads']} thread(s) per runtime\n\n"
                  + quantization(result) + "\n")
        else:  # gpu_train
            print(f"{result['policy']}, XLA {'on' if result['xla'] else 'off'}, batch {result['batch_size']}, "
                  f"GPUs {machine['gpus'] or 'none'}: **{result['images_per_s']:.1f} images/s** (median of "
                  f"{len(result['images_per_s_per_epoch']) - 1} epochs after a warm-up epoch)\n")


if __name__ == "__main__":
    main()
