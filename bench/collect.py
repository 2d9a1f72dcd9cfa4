"""Append the other benchmarks' figures to bench/RESULTS.md and print one summary table.

``make bench`` runs bench/run.py (which writes RESULTS.md: machine, filing against the
one-INSERT ceiling, search), then the back office, signing, load, audit-log and exchange benchmarks
(each writes its part under bench/out/), then this script.
"""

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
    for name in ("load.md", "audit.md", "exchange.md"):
        section = BENCH / "out" / name
        if section.exists():
            parts += [section.read_text(encoding="utf-8").rstrip(), ""]
    policy = BENCH / "out" / "policy.txt"
    if policy.exists():
        parts += [
            "## Permission check + access entry + audit entry vs. the request "
            "(bench/bench_policy.py)",
            "",
            "```",
            policy.read_text(encoding="utf-8").rstrip(),
            "```",
            "",
        ]
    text = "\n".join(parts)
    results.write_text(text, encoding="utf-8")
    print(summary(text))
    return 0


def summary(text: str) -> str:
    """Every target row of every section (``| figure | value | target | PASS/FAIL |``)."""
    rows = []
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[3] in {"PASS", "FAIL"}:
            rows.append(cells)
    width = max((len(r[0]) for r in rows), default=10)
    out = [f"{'Figure':<{width}}  {'Value':<28}  {'Target':<12}  Result"]
    out += [f"{f:<{width}}  {v:<28}  {t:<12}  {r}" for f, v, t, r in rows]
    return "\n".join(out)


if __name__ == "__main__":
    raise SystemExit(main())
