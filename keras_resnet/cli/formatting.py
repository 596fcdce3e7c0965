"""The rows of `table` and `weights` as the aligned text columns the command prints."""

from __future__ import annotations


def format_table(rows: list[dict]) -> str:
    """Rows of `keras_resnet.models.table.paper_table`; a reference column only if a row has one."""
    head = f"{'model':<29}{'layers':>7}  {'stages':<28}{'params':>13}{'GMACs':>9}{'paper':>9}"
    head += "  reference" if any(r["reference"] for r in rows) else ""
    lines = [head, "-" * len(head)]
    for r in rows:
        paper = (
            f"{r['paper_gmacs']:g}" if r["paper_gmacs"] is not None
            else f"{r['paper_params_m']}M" if r["paper_params_m"] is not None else "-"
        )
        gmacs = f"{r['gmacs']:.3f}" if r["gmacs"] >= 0.1 else f"{r['gmacs']:.4f}"
        line = f"{r['model']:<29}{r['layers']:>7}  {r['stages']:<28}{r['params']:>13,}{gmacs:>9}{paper:>9}"
        lines.append(f"{line}  {r['reference']}" if r["reference"] else line)
    return "\n".join(lines)


def format_weights(rows: list[dict]) -> str:
    """Rows of `keras_resnet.pretrained.registry.list_weights`; "-" where a number is unknown."""
    head = (f"{'weights':<12}{'model':<18}{'variant':<8}{'license':<14}{'MB':>7}{'top-1':>8}{'top-5':>8}  "
            f"{'check':<16}{'here':<8}source")
    lines = [head, "-" * len(head)]
    for r in rows:
        size = f"{r['size_mb']:.1f}" if r["size_mb"] is not None else "-"
        top1, top5 = (f"{v:.2f}" if v is not None else "-" for v in (r["top1"], r["top5"]))
        lines.append(f"{r['weights']:<12}{r['model']:<18}{r['variant']:<8}{r['license']:<14}{size:>7}{top1:>8}"
                     f"{top5:>8}  {r['check']:<16}{r['here']:<8}{r['source']}")
    return "\n".join(lines)


def format_hub_tags(tags) -> str:
    """`keras_resnet.pretrained.timm_tags.HubTag`s: the handle, timm's eval transform, the licence
    timm states, timm's published top-1 with the image size it was measured at ("-": none)."""
    head = f"{'weights':<52}{'size':>5}{'crop':>6}  {'resize':<9}{'license':<14}{'top-1':>7}  at"
    lines = [head, "-" * len(head)]
    for t in tags:
        top1, at = (f"{t.top1:.2f}", f"{t.top1_img_size}/{t.top1_crop_pct:g}") if t.top1 is not None else ("-", "")
        lines.append(f"{t.handle:<52}{t.input_size:>5}{t.crop_pct:>6g}  {t.interpolation:<9}{t.license or '-':<14}"
                     f"{top1:>7}  {at}")
    return "\n".join(lines)
