"""Mini-papers drawn with reportlab for the batch tests and benchmark: one page that
names one catalogue op (so the offline engine maps it), and a PDF that is not one."""

from __future__ import annotations

from pathlib import Path

from reportlab.pdfgen.canvas import Canvas

OPS = {
    "vector_add": ("Vector Addition", "element-wise vector addition z = x + y"),
    "gelu": ("GELU", "the GELU activation (gaussian error linear unit)"),
    "softmax": ("Row Softmax", "a row-wise softmax over the last dimension"),
    "rmsnorm": ("RMSNorm", "RMSNorm (root mean square layer normalization)"),
    "layernorm": ("LayerNorm", "layer normalization over the last dimension"),
    "cumsum": ("Prefix Sum", "the cumulative sum (prefix sum, inclusive scan)"),
}


def mini_paper(path: Path, op: str, variant: int = 0) -> Path:
    """A one-page paper about catalogue op ``op``; ``variant`` changes its title only."""
    title, what = OPS[op]
    canvas = Canvas(str(path), invariant=1)
    canvas.setFont("Helvetica-Bold", 16)
    canvas.drawString(72, 740, f"A Fused {title} Kernel for GPUs (note {variant})")
    canvas.setFont("Helvetica", 11)
    lines = [
        "Abstract",
        f"We present a Triton kernel for {what}.",
        "The kernel is memory bound and reads each input once.",
        "1 Introduction",
        f"Deep learning models use {what} in every layer.",
        "2 Method",
        f"Each program instance computes {what} for one block of elements.",
        "3 Evaluation",
        "We compare against the PyTorch eager baseline on several shapes.",
    ]
    for n, line in enumerate(lines):
        canvas.drawString(72, 700 - 18 * n, line)
    canvas.showPage()
    canvas.save()
    return path


def bad_pdf(path: Path) -> Path:
    """A file named .pdf that is not a PDF."""
    path.write_bytes(b"this is not a pdf at all\n")
    return path
