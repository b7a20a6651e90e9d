"""Per kernel of an ncu source export: the executed-instruction mix by opcode and the warp
stall samples by reason, plus the most-sampled instructions (benchmarks/NOTES.md #81).

    ncu -i REPORT.ncu-rep --page source --csv --print-source sass | gzip > sass.csv.gz
    python3 scripts/ncu_sass_mix.py sass.csv.gz [--top N]
"""

from __future__ import annotations

import argparse
import collections
import csv
import gzip


def kernels(path: str) -> list[dict]:
    opener = gzip.open if path.endswith(".gz") else open
    rows = list(csv.reader(opener(path, "rt")))
    out, cur, i = [], None, 0
    while i < len(rows):
        r = rows[i]
        if r and r[0] == "Kernel Name":
            cur = {"name": r[1], "hdr": rows[i + 1], "ins": []}
            out.append(cur)
            i += 2
            continue
        if cur is not None and r:
            cur["ins"].append(r)
        i += 1
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("csv")
    ap.add_argument("--top", type=int, default=8)
    args = ap.parse_args()
    for k in kernels(args.csv):
        ix = {n: j for j, n in enumerate(k["hdr"])}
        stall_cols = [n for n in k["hdr"] if n.startswith("stall_") and "Not Issued" not in n]
        ops, stalls, total = collections.Counter(), collections.Counter(), 0
        for r in k["ins"]:
            words = r[ix["Source"]].split()
            if not words:
                continue
            op = words[1] if words[0].startswith("@") else words[0]
            n = int(r[ix["Instructions Executed"]] or 0)
            ops[op.split(".")[0]] += n
            total += n
            for c in stall_cols:
                stalls[c[6:]] += int(r[ix[c]] or 0)
        samples = sum(int(r[ix["# Samples"]] or 0) for r in k["ins"])
        named = sum(stalls.values())
        print(f"== {k['name']}: {total} warp instructions, {samples} stall samples")
        print("  instructions: " + ", ".join(f"{o} {c / total * 100:.1f}%" for o, c in ops.most_common(12)))
        print("  stalls (named reasons): " + ", ".join(f"{s} {c / named * 100:.1f}%" for s, c in stalls.most_common(8)))
        top = sorted(k["ins"], key=lambda r: -int(r[ix["# Samples"]] or 0))[: args.top]
        for r in top:
            s = int(r[ix["# Samples"]] or 0)
            print(f"    {s / samples * 100:5.1f}%  {r[ix['Source']].strip()[:80]}")


if __name__ == "__main__":
    main()
