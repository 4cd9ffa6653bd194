"""OCR speed and accuracy on corpus pages rendered to images, as a scanner would make them.

    .venv/bin/python benchmarks/ocr.py [--pages 20] [--dpi 200] [--corpus corpus]
        [--engine tesseract|rapidocr]

Takes `--pages` pages spread evenly over the corpus PDFs, renders each at `--dpi` in grey,
puts the image alone in a PDF (no text layer) and reads that PDF with `rag.loading.load` and
Tesseract (no cache). Character error rate: edit distance between the OCR text and the page's
own text layer (both with whitespace collapsed), over the text layer's length. Prints JSON.
`--engine rapidocr` reads the same scans with RapidOCR (the pip package
rapidocr-onnxruntime 1.4.4, which ships PP-OCRv4 ONNX models; not a project dependency,
install it apart to compare), its lines joined in its order.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pypdfium2 as pdfium
from fpdf import FPDF

from rag.loading import PdfReading, load
from rag.ocr import Ocr


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance, one row of the table at a time in numpy."""
    target = np.frombuffer(b.encode("utf-32-le"), dtype=np.uint32)
    columns = np.arange(len(b) + 1)
    row = columns.copy()
    for i, char in enumerate(a, 1):
        cost = (target != ord(char)).astype(np.int64)
        best = np.empty_like(row)
        best[0] = i
        best[1:] = np.minimum(row[1:] + 1, row[:-1] + cost)
        row = np.minimum.accumulate(best - columns) + columns  # insertions along the row
    return int(row[-1])


def scanned_copy(source: Path, index: int, dpi: int, target: Path) -> str:
    """Write page `index` of `source` as an image-only PDF; return the page's text layer."""
    document = pdfium.PdfDocument(source)
    page = document[index]
    text = page.get_textpage().get_text_bounded()
    width, height = page.get_width(), page.get_height()
    image = page.render(scale=dpi / 72).to_pil().convert("L")
    document.close()
    pdf = FPDF(unit="pt", format=(width, height))
    pdf.add_page()
    pdf.image(image, x=0, y=0, w=width, h=height)
    pdf.output(str(target))
    return text


def rapidocr_text(scan: Path) -> str:
    """The text RapidOCR reads on the one page of `scan`, drawn at 300 dpi as for Tesseract."""
    from rapidocr_onnxruntime import RapidOCR

    engine = RAPIDOCR.setdefault("engine", RapidOCR())
    document = pdfium.PdfDocument(scan)
    image = np.asarray(document[0].render(scale=300 / 72).to_pil().convert("RGB"))
    document.close()
    lines, _ = engine(image)
    return " ".join(" ".join(text for _, text, _ in lines or []).split())


RAPIDOCR: dict[str, Any] = {}  # the engine, made once (its model load takes seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=20)
    parser.add_argument("--dpi", type=int, default=200)
    parser.add_argument("--corpus", type=Path, default=Path("corpus"))
    parser.add_argument("--engine", choices=["tesseract", "rapidocr"], default="tesseract")
    args = parser.parse_args()
    pages = [
        (path, index)
        for path in sorted(args.corpus.glob("*.pdf"))
        for index, page in enumerate(pdfium.PdfDocument(path))
        if len(page.get_textpage().get_text_bounded().strip()) >= 200  # a page of text
    ]
    step = max(1, len(pages) // args.pages)
    sample = pages[::step][: args.pages]
    ocr = Ocr("eng", None)
    errors = characters = 0
    seconds = 0.0
    per_page = []
    with tempfile.TemporaryDirectory() as folder:
        for path, index in sample:
            scan = Path(folder) / f"{path.stem}-{index + 1}.pdf"
            reference = " ".join(scanned_copy(path, index, args.dpi, scan).split())
            started = time.perf_counter()
            if args.engine == "tesseract":
                read = " ".join(load(scan, PdfReading(ocr)).pages[0].text.split())
            else:
                read = rapidocr_text(scan)
            seconds += time.perf_counter() - started
            distance = edit_distance(read, reference)
            errors += distance
            characters += len(reference)
            per_page.append(
                {"page": f"{path.name} p{index + 1}", "cer": round(distance / len(reference), 4)}
            )
    print(
        json.dumps(
            {
                "pages": len(sample),
                "dpi": args.dpi,
                "engine": args.engine,
                "pages_per_second": round(len(sample) / seconds, 3),
                "character_error_rate": round(errors / characters, 4),
                "median_page_cer": float(np.median([p["cer"] for p in per_page])),
                "machine": platform.processor() or platform.machine(),
                "per_page": per_page,
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
