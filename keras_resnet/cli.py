"""`keras-resnet` command line. `table` prints the paper's Table 1 from the built models."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from keras_resnet.architectures import IMAGENET, PAPER_CIFAR10, PAPER_GFLOPS, VARIANTS, cifar


def table(variant: str, plain: bool, cifar_n: Sequence[int]) -> list[dict]:
    """One row per model: layers, trainable parameters, multiply-adds, the paper's numbers."""
    from keras_resnet.builders import build_resnet  # deferred: imports Keras and a backend
    from keras_resnet.flops import count_flops, count_trainable_params

    def row(model, arch, paper_gmacs=None, paper_params=None) -> dict:
        return {
            "model": model.name,
            "layers": arch.depth,
            "stages": f"{list(arch.blocks)} x {arch.kind}",
            "params": count_trainable_params(model),
            "gmacs": count_flops(model) / 1e9,
            "paper_gmacs": paper_gmacs,
            "paper_params_m": paper_params,
        }

    rows = []
    for residual in (True, False) if plain else (True,):
        for depth, arch in IMAGENET.items():
            model = build_resnet(arch, residual=residual, variant=variant)
            rows.append(row(model, arch, PAPER_GFLOPS[depth] if residual else None))
    for n in cifar_n:
        arch = cifar(n)
        model = build_resnet(arch)
        rows.append(row(model, arch, None, PAPER_CIFAR10.get(n, {}).get("params_m")))
    return rows


def _format(rows: list[dict]) -> str:
    head = f"{'model':<16}{'layers':>7}  {'stages':<28}{'params':>13}{'GMACs':>9}{'paper':>9}"
    lines = [head, "-" * len(head)]
    for r in rows:
        paper = (
            f"{r['paper_gmacs']:.1f}" if r["paper_gmacs"] is not None
            else f"{r['paper_params_m']}M" if r["paper_params_m"] is not None else "-"
        )
        gmacs = f"{r['gmacs']:.3f}" if r["gmacs"] >= 0.1 else f"{r['gmacs']:.4f}"
        lines.append(f"{r['model']:<16}{r['layers']:>7}  {r['stages']:<28}{r['params']:>13,}{gmacs:>9}{paper:>9}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="keras-resnet", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    t = commands.add_parser("table", help="layers, parameters and multiply-adds of every model (Table 1)")
    t.add_argument("--variant", choices=VARIANTS, default="v1", help="bottleneck stride placement")
    t.add_argument("--plain", action="store_true", help="add the plain (no-shortcut) twins")
    t.add_argument("--cifar", type=int, nargs="*", default=[], metavar="N",
                   help="add CifarResNet(N) rows (6N+2 layers, 32x32 input), e.g. --cifar 3 5 7 9 18")
    c = commands.add_parser("convert", help="convert published weights into a keras_resnet weights file")
    c.add_argument("source", help="keras.applications .h5, torchvision/timm .safetensors or .pth, CIFAR .th")
    c.add_argument("output", help="weights file to write (.h5, layer-name keyed)")
    c.add_argument("--model", required=True, help="e.g. resnet50, resnet18, cifar_resnet20")
    c.add_argument("--variant", choices=VARIANTS, default=None,
                   help="bottleneck stride placement (default: the source's, v1 keras.applications, v1.5 torch)")
    c.add_argument("--shortcut", default=None, help="shortcut option of the source (default: the paper's)")
    c.add_argument("--classes", type=int, default=None, help="default: the source classifier's")
    args = parser.parse_args(argv)
    if args.command == "convert":
        from keras_resnet.convert import convert_file

        digest = convert_file(
            args.source, args.output, args.model, variant=args.variant, shortcut=args.shortcut, classes=args.classes
        )
        print(f"wrote {args.output}  sha256 {digest}")
    elif args.command == "table":
        if any(n < 1 for n in args.cifar):
            parser.error(f"--cifar: N must be >= 1; received {args.cifar}")
        print(f"ImageNet models at 224x224 (variant {args.variant}); GMACs = 10^9 multiply-adds; "
              "paper = Table 1 GMACs (ImageNet) or Table 6 params (CIFAR-10).")
        print(_format(table(args.variant, args.plain, args.cifar)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
