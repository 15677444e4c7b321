"""The MP-DBM transfer against the SAE's and the peers, on the same draws.

Reads the raw records of ``bench_alltransfer.py --out A.json`` (SAE source
and peers) and of ``bench_mpdbm_finetuning.py --out B.json`` (MP-DBM
variants) and prints, for each ``n``: mean ± std over the (task, draw),
the per-task means, the worst (task, draw); then the checks of the MP-DBM
variant ``--mpdbm`` against the SAE's default transfer: the mean gap, the
gap of the worst cases, the (task, draw) under the variant's own T = 0
(``--mpdbm-t0``), and the tasks whose mean over draws falls as n grows.

Run: ``python benchmarks/compare_mpdbm_sae.py A.json B.json [--mpdbm default]
[--mpdbm-t0 n_transferred_layers=0]``
"""

import argparse
import json
from collections import defaultdict

import numpy as np


def load(alltransfer_json, mpdbm_json):
    """``{(method, n): {(task, draw): accuracy}}`` from both files."""
    table = defaultdict(dict)
    with open(alltransfer_json) as f:
        for key, records in json.load(f).items():
            n, method = key.split("|", 1)
            for r in records:
                table[method, int(n)][tuple(r["task"]), r["draw"]] = r["accuracy"]
    with open(mpdbm_json) as f:
        for r in json.load(f):
            method = f"mpdbm: {r['variant']}"
            table[method, r["n"]][tuple(r["task"]), r["draw"]] = r["accuracy"]
    return table


def row(name, cells):
    acc = 100 * np.array(list(cells.values()))
    per_task = defaultdict(list)
    for (task, _), a in cells.items():
        per_task[task].append(100 * a)
    worst = min(cells, key=cells.get)
    tasks = " ".join(f"{np.mean(v):.1f}" for v in per_task.values())
    return (
        f"| {name} | {acc.mean():.2f} ± {acc.std():.2f} | {tasks} | "
        f"{100 * cells[worst]:.1f} {worst[0]} d{worst[1]} |"
    )


def main(alltransfer_json, mpdbm_json, mpdbm, mpdbm_t0, sae):
    table = load(alltransfer_json, mpdbm_json)
    ns = sorted({n for _, n in table})
    ours, t0 = f"mpdbm: {mpdbm}", f"mpdbm: {mpdbm_t0}"
    for n in ns:
        print(f"\n### n = {n} images per class\n")
        print("| method | accuracy (%) | per task | worst (task, draw) |")
        print("|---|---|---|---|")
        for (method, m), cells in sorted(table.items()):
            if m == n:
                print(row(method, cells))
    print("\n### Checks\n")
    for n in ns:
        a, b = table.get((ours, n)), table.get((sae, n))
        if not a or not b:
            continue
        gap = 100 * (np.mean(list(a.values())) - np.mean(list(b.values())))
        worst_gap = 100 * (min(a.values()) - min(b.values()))
        line = f"n={n}: mean {gap:+.2f} vs SAE, worst {worst_gap:+.1f} vs SAE's worst"
        if (t0, n) in table:
            below = [
                (k, round(100 * (a[k] - table[t0, n][k]), 1))
                for k in a
                if a[k] < table[t0, n][k]
            ]
            line += f"; {len(below)} of {len(a)} (task, draw) under own T=0 {below}"
        print(line)
    falls = []
    for task in {k[0] for k in table.get((ours, ns[0]), {})}:
        means = [
            np.mean([v for (t, _), v in table[ours, n].items() if t == task])
            for n in ns
            if (ours, n) in table
        ]
        if any(later < earlier for earlier, later in zip(means, means[1:])):
            falls.append((task, [round(100 * m, 1) for m in means]))
    print(f"tasks whose mean falls as n grows: {falls or 'none'}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("alltransfer_json")
    parser.add_argument("mpdbm_json")
    parser.add_argument("--mpdbm", default="default")
    parser.add_argument("--mpdbm-t0", default="n_transferred_layers=0")
    parser.add_argument("--sae", default="sae: T=all (default)")
    args = parser.parse_args()
    main(args.alltransfer_json, args.mpdbm_json, args.mpdbm, args.mpdbm_t0, args.sae)
