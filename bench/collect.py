"""Append the back-office and signing figures of this run to bench/RESULTS.md (``make bench``)."""

from __future__ import annotations

from pathlib import Path

BENCH = Path(__file__).resolve().parent


def main() -> int:
    results = BENCH / "RESULTS.md"
    parts = [results.read_text(encoding="utf-8").rstrip(), ""]
    backoffice = BENCH / "out" / "backoffice.md"
    if backoffice.exists():
        parts += [backoffice.read_text(encoding="utf-8").rstrip(), ""]
    sign = BENCH / "out" / "sign.txt"
    if sign.exists():
        parts += [
            "## Rendering and signing a resolution (bench/bench_sign.py)",
            "",
            "```",
            sign.read_text(encoding="utf-8").rstrip(),
            "```",
            "",
        ]
    results.write_text("\n".join(parts), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
