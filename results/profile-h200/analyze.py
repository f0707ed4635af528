#!/usr/bin/env python3
"""Per-decode-step summary of a cupti_trace.cpp trace of deltakv-speed-bench.

usage: analyze.py TRACE.csv[.gz] CBID_HEADER OUT_PREFIX [--skip N] [--step N]

Steps are delimited by the logits read-back (the most frequent device-to-host copy of >= 64 KiB; the first one
is the prompt's). Host step i ends when the stream synchronisation after its logits copy returns; the window
of step i is (end of step i-1, end of step i]. Steps 1..skip after the prompt are left out (DeltaKV compresses
the prompt at the first one). Writes OUT_PREFIX.txt (summary), OUT_PREFIX-kernels.csv (by kernel, per step),
OUT_PREFIX-ops.csv (by kernel base name, per step), OUT_PREFIX-api.csv (runtime API per step). With --step N only
step N is summarised (--step 1: the step that compresses the prompt).
"""
import collections
import gzip
import re
import statistics
import subprocess
import sys


def load_cbids(header):
    names = {}
    for line in open(header):
        m = re.match(r"\s*CUPTI_RUNTIME_TRACE_CBID_(\w+)\s*=\s*(\d+)", line)
        if m:
            names[int(m.group(2))] = m.group(1)
    return names


def demangle(names):
    try:
        out = subprocess.run(["c++filt"], input="\n".join(names), capture_output=True, text=True, check=True).stdout
        res = out.split("\n")[: len(names)]
        if len(res) == len(names):
            return res
    except Exception:  # noqa: BLE001
        pass
    return list(names)


def short(name):
    s = name
    if s.startswith("void "):
        s = s[5:]
    depth = 0
    for i, c in enumerate(s):
        if c == "<":
            depth += 1
        elif c == ">":
            depth -= 1
        elif c == "(" and depth == 0:
            s = s[:i]
            break
    return s


def base(name):
    s = short(name)
    i = s.find("<")
    return s if i < 0 else s[:i]


def union_ms(intervals):
    tot = 0
    cur_s = cur_e = None
    for s, e in sorted(intervals):
        if cur_e is None or s > cur_e:
            if cur_e is not None:
                tot += cur_e - cur_s
            cur_s, cur_e = s, e
        else:
            cur_e = max(cur_e, e)
    if cur_e is not None:
        tot += cur_e - cur_s
    return tot / 1e6


def prompt_summary(prefix, K, Rm, M, S, cb, dem, end, sync_ids):
    """Where the prompt's time goes (time to first token): from the first kernel launch (the model's weights are
    loaded by then) to the end of the synchronisation after the prompt's logits copy. Writes PREFIX-prompt.txt."""
    launches = [r[0] for r in Rm if "LaunchKernel" in cb.get(r[2], "")]
    start = launches[0] if launches else min(k[0] for k in K)
    ks = [k for k in K if k[0] >= start and k[1] <= end]
    rs = [r for r in Rm if r[0] >= start and r[1] <= end]
    ms = [m for m in M if m[0] >= start and m[1] <= end]
    ss = [s for s in S if s[0] >= start and s[1] <= end]
    out = [f"prompt window: {(end - start) / 1e6:.1f} ms from the first kernel launch to the first logits' sync",
           f"  GPU kernel busy (union)    {union_ms([(k[0], k[1]) for k in ks]):10.1f} ms, {len(ks)} kernels",
           f"  GPU busy incl. copies      {union_ms([(k[0], k[1]) for k in ks] + [(m[0], m[1]) for m in ms] + [(s[0], s[1]) for s in ss]):10.1f} ms",
           f"  HtoD copies                {sum(1 for m in ms if m[2] == 1):10d}, {sum(m[3] for m in ms if m[2] == 1) / 2**20:.1f} MiB, "
           f"{sum(m[1] - m[0] for m in ms if m[2] == 1) / 1e6:.1f} ms",
           f"  DtoD copies                {sum(1 for m in ms if m[2] == 8):10d}, {sum(m[3] for m in ms if m[2] == 8) / 2**20:.1f} MiB, "
           f"{sum(m[1] - m[0] for m in ms if m[2] == 8) / 1e6:.1f} ms",
           f"  runtime API time           {sum(r[1] - r[0] for r in rs) / 1e6:10.1f} ms in {len(rs)} calls "
           f"(synchronisation {sum(r[1] - r[0] for r in rs if r[2] in sync_ids) / 1e6:.1f} ms)"]
    # GPU idle gaps over 1 ms: host work the GPU waited for
    busy = sorted([(k[0], k[1]) for k in ks] + [(m[0], m[1]) for m in ms])
    gaps, last = [], start
    for s0, e0 in busy:
        if s0 - last > 1e6:
            gaps.append(s0 - last)
        last = max(last, e0)
    out.append(f"  GPU idle gaps > 1 ms        {len(gaps):10d}, {sum(gaps) / 1e6:.1f} ms in all, largest {max(gaps, default=0) / 1e6:.1f} ms")
    bases = collections.defaultdict(lambda: [0.0, 0])
    for k in ks:
        b = base(dem.get(k[5], str(k[5])))
        bases[b][0] += (k[1] - k[0]) / 1e6
        bases[b][1] += 1
    out.append("  kernels by base name, ms (launches), top 20:")
    for b, (t, c) in sorted(bases.items(), key=lambda x: -x[1][0])[:20]:
        out.append(f"    {t:10.1f} {c:8d}  {b}")
    api = collections.defaultdict(lambda: [0.0, 0])
    for r in rs:
        n = cb.get(r[2], str(r[2]))
        api[n][0] += (r[1] - r[0]) / 1e6
        api[n][1] += 1
    out.append("  runtime API, ms (calls), top 10:")
    for n, (t, c) in sorted(api.items(), key=lambda x: -x[1][0])[:10]:
        out.append(f"    {t:10.1f} {c:8d}  {n}")
    open(prefix + "-prompt.txt", "w").write("\n".join(out) + "\n")
    print("\n".join(out))


def main():
    args = sys.argv[1:]
    skip = 4
    if "--skip" in args:
        i = args.index("--skip")
        skip = int(args[i + 1])
        del args[i : i + 2]
    only = None
    if "--step" in args:
        i = args.index("--step")
        only = int(args[i + 1])
        del args[i : i + 2]
    path, header, prefix = args
    cb = load_cbids(header)
    op = gzip.open if path.endswith(".gz") else open
    K, R, M, S, names = [], [], [], [], {}
    dropped = "?"
    with op(path, "rt", errors="replace") as f:
        for line in f:
            t = line.rstrip("\n").split(",", 2 if line.startswith("N,") else 20)
            k = t[0]
            if k == "K":
                K.append((int(t[1]), int(t[2]), int(t[3]), int(t[4]), int(t[5]), int(t[6])))
            elif k == "R":
                R.append((int(t[2]), int(t[3]), int(t[1]), int(t[4]), int(t[5])))
            elif k == "M":
                M.append((int(t[3]), int(t[4]), int(t[1]), int(t[2]), int(t[7]) if len(t) > 7 else 0, int(t[6])))
            elif k == "S":
                S.append((int(t[2]), int(t[3]), int(t[1])))
            elif k == "N":
                names[int(t[1])] = t[2]
            elif k == "X":
                dropped = t[2]
    idx = sorted(names)
    dem = dict(zip(idx, demangle([names[i] for i in idx])))
    K.sort()
    R.sort()
    M.sort()
    out = []
    out.append(f"records: kernels {len(K)}, runtime {len(R)}, memcpy {len(M)}, memset {len(S)}, dropped {dropped}")

    # logits copies
    sizes = collections.Counter(m[3] for m in M if m[2] == 2 and m[3] >= 65536)
    if not sizes:
        out.append("no logits copies found")
        open(prefix + ".txt", "w").write("\n".join(out) + "\n")
        print("\n".join(out))
        return
    lbytes = sizes.most_common(1)[0][0]
    logits = [m for m in M if m[2] == 2 and m[3] == lbytes]
    out.append(f"logits copies: {len(logits)} of {lbytes} bytes")
    tid = collections.Counter(r[3] for r in R).most_common(1)[0][0]
    Rm = [r for r in R if r[3] == tid]
    by_corr = {r[4]: r for r in Rm}
    sync_ids = {c for c, n in cb.items() if "Synchronize" in n}
    ends = []
    j = 0
    for m in logits:
        api = by_corr.get(m[4])
        t0 = api[0] if api else m[0]
        while j < len(Rm) and not (Rm[j][0] >= t0 and Rm[j][2] in sync_ids):
            j += 1
        ends.append(Rm[j][1] if j < len(Rm) else m[1])
    steps = list(range(1 + skip, len(ends))) if only is None else [only]
    out.append(f"decode steps traced: {len(ends) - 1}; summarised: {len(steps)} (steps {1 + skip}..{len(ends) - 1})")

    def window(lst, a, b):
        import bisect
        lo = bisect.bisect_right(lst, (a, 1 << 62))
        hi = bisect.bisect_right(lst, (b, 1 << 62))
        return lst[lo:hi]

    prompt_summary(prefix, K, Rm, M, S, cb, dem, ends[0], sync_ids)

    per = collections.defaultdict(list)
    kern_time = collections.defaultdict(float)
    kern_cnt = collections.Counter()
    kern_adv = collections.defaultdict(float)  # time each kernel adds to the step's GPU busy time (programmatic
                                               # dependent launch lets a kernel start, and wait, before its
                                               # predecessor ends, so durations overlap; these sum to the busy time)
    api_time = collections.defaultdict(float)
    api_cnt = collections.Counter()
    for i in steps:
        a, b = ends[i - 1], ends[i]
        ks = window(K, a, b)
        rs = window(Rm, a, b)
        ms = window(M, a, b)
        ss = window(S, a, b)
        per["wall_ms"].append((b - a) / 1e6)
        per["gpu_kernel_busy_ms"].append(union_ms([(k[0], k[1]) for k in ks]))
        per["gpu_busy_incl_copies_ms"].append(union_ms([(k[0], k[1]) for k in ks] + [(m[0], m[1]) for m in ms] +
                                                       [(s[0], s[1]) for s in ss]))
        per["kernel_sum_ms"].append(sum(k[1] - k[0] for k in ks) / 1e6)
        per["kernels"].append(len(ks))
        per["kernels_in_cuda_graph"].append(sum(1 for k in ks if k[3] != 0))
        per["memcpy_HtoD"].append(sum(1 for m in ms if m[2] == 1))
        per["memcpy_DtoH"].append(sum(1 for m in ms if m[2] == 2))
        per["memcpy_DtoD"].append(sum(1 for m in ms if m[2] == 8))
        per["memcpy_HtoD_bytes"].append(sum(m[3] for m in ms if m[2] == 1))
        per["memsets"].append(len(ss))
        launches = [r for r in rs if "LaunchKernel" in cb.get(r[2], "") or "GraphLaunch" in cb.get(r[2], "")]
        per["api_kernel_launch_calls"].append(sum(1 for r in rs if "LaunchKernel" in cb.get(r[2], "")))
        per["api_graph_launch_calls"].append(sum(1 for r in rs if "GraphLaunch" in cb.get(r[2], "")))
        per["api_calls"].append(len(rs))
        per["api_time_ms"].append(sum(r[1] - r[0] for r in rs) / 1e6)
        per["api_sync_calls"].append(sum(1 for r in rs if r[2] in sync_ids))
        per["api_sync_time_ms"].append(sum(r[1] - r[0] for r in rs if r[2] in sync_ids) / 1e6)
        if launches:
            per["host_before_first_launch_ms"].append((launches[0][0] - a) / 1e6)
            per["host_launch_phase_ms"].append((launches[-1][1] - launches[0][0]) / 1e6)
            per["host_after_last_launch_ms"].append((b - launches[-1][1]) / 1e6)
        if rs:
            per["final_sync_wait_ms"].append((rs[-1][1] - rs[-1][0]) / 1e6 if rs[-1][2] in sync_ids else 0.0)
        if ks:
            per["first_kernel_start_after_step_start_ms"].append((ks[0][0] - a) / 1e6)
            per["gpu_span_first_to_last_kernel_ms"].append((ks[-1][1] - ks[0][0]) / 1e6)
        covered = None  # the end of the GPU time covered so far: each kernel is charged what it adds to the union
        for k in sorted(ks):
            kern_time[k[5]] += (k[1] - k[0]) / 1e6
            kern_cnt[k[5]] += 1
            kern_adv[k[5]] += max(0, k[1] - (k[0] if covered is None else max(k[0], covered))) / 1e6
            covered = k[1] if covered is None else max(covered, k[1])
        for r in rs:
            n = cb.get(r[2], str(r[2]))
            api_time[n] += (r[1] - r[0]) / 1e6
            api_cnt[n] += 1
    n = max(1, len(steps))
    out.append("")
    out.append("per step (median over the summarised steps; min / max):")
    for key, v in per.items():
        if v:
            out.append(f"  {key:42s} {statistics.median(v):10.3f}   ({min(v):.3f} / {max(v):.3f})")
    out.append("")
    out.append("all step wall ms: " + " ".join(f"{(ends[i] - ends[i - 1]) / 1e6:.2f}" for i in range(1, len(ends))))

    rows = sorted(((kern_time[x] / n, kern_cnt[x] / n, x) for x in kern_time), reverse=True)
    with open(prefix + "-kernels.csv", "w") as f:
        f.write("ms_per_step,launches_per_step,avg_us,kernel\n")
        for t, c, x in rows:
            f.write(f"{t:.4f},{c:.2f},{1000 * t / c:.2f},\"{short(dem[x])[:200]}\"\n")
    bases = collections.defaultdict(lambda: [0.0, 0.0])
    for t, c, x in rows:
        bases[base(dem[x])][0] += t
        bases[base(dem[x])][1] += c
    brow = sorted(((v[0], v[1], k) for k, v in bases.items()), reverse=True)
    with open(prefix + "-ops.csv", "w") as f:
        f.write("ms_per_step,launches_per_step,avg_us,kernel_base\n")
        for t, c, x in brow:
            f.write(f"{t:.4f},{c:.2f},{1000 * t / c:.2f},\"{x}\"\n")
    arow = sorted(((api_time[x] / n, api_cnt[x] / n, x) for x in api_time), reverse=True)
    with open(prefix + "-api.csv", "w") as f:
        f.write("ms_per_step,calls_per_step,api\n")
        for t, c, x in arow:
            f.write(f"{t:.4f},{c:.2f},{x}\n")
    out.append("")
    out.append("top 20 kernels by GPU time (ms per step, launches per step, avg us):")
    for t, c, x in rows[:20]:
        out.append(f"  {t:8.3f} {c:8.1f} {1000 * t / c:9.1f}  {short(dem[x])[:150]}")
    out.append("")
    out.append("by kernel base name (top 25):")
    for t, c, x in brow[:25]:
        out.append(f"  {t:8.3f} {c:8.1f} {1000 * t / c:9.1f}  {x}")
    adv_base = collections.defaultdict(lambda: [0.0, 0.0])
    for x, t in kern_adv.items():
        adv_base[base(dem[x])][0] += t / n
        adv_base[base(dem[x])][1] += kern_cnt[x] / n
    out.append("")
    out.append("by kernel base name, the GPU busy time each adds (its time not overlapped by kernels before it; "
               "ms per step, launches per step, us each), top 25:")
    for x, (t, c) in sorted(adv_base.items(), key=lambda v: -v[1][0])[:25]:
        out.append(f"  {t:8.3f} {c:8.1f} {1000 * t / c:9.1f}  {x}")
    out.append("")
    out.append("runtime API (ms per step, calls per step), top 15:")
    for t, c, x in arow[:15]:
        out.append(f"  {t:8.3f} {c:8.1f}  {x}")
    open(prefix + ".txt", "w").write("\n".join(out) + "\n")
    print("\n".join(out))


if __name__ == "__main__":
    main()
