#!/usr/bin/env python3
"""run.py - run the pmalloc benchmark suite and write docs/PERFORMANCE.md.

Usually started by `make bench`.  Workloads are listed in WORKLOADS: timed
ones (ratios to glibc and geometric means, over all of them and over the
previous set), start-up (time per process, lower is better) and memory
(peak RSS); real programs are run through bench/w_exec and their output
must match glibc's (a mismatch makes the run exit 1).  For every workload, every allocator is run
in turn, round after round (glibc, pmalloc, jemalloc, ..., glibc, pmalloc,
...), so slow drifts of the machine hit all allocators alike.  Medians are
taken per allocator; speed ratios are glibc_time / allocator_time (> 1 means
faster than glibc).  Then a callgrind instruction count of the churn fast
path, then any bench/ckpt_*.sh scripts (their stdout is markdown, appended
under "Checkpoint and restore").  The chart is drawn by bench/chart.py with a
Python that has matplotlib, or skipped with a message.

Allocators: glibc (no preload), pmalloc (<build>/libpmalloc.so) and the
Debian packages libjemalloc2, libmimalloc2.0, libgoogle-perftools4, found
with `ldconfig -p` or in the multiarch library directories; missing ones are
skipped.
"""

import argparse
import json
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import time

class W:
    """A workload: NAME (as shown and as given to BENCH_ONLY) runs PROG
    (a program in <build>/bench/) with ARGS; the same program may run under
    several names with different arguments.  KIND: "speed" (timed, in the
    geometric means), "memory" (peak RSS) or "startup" (timed, lower is
    better, not in the means).  PREV: part of the set the geometric mean
    covered before the hard workloads came, kept so that old and new numbers
    stay comparable.  ENV: extra environment.  CHECK: the program's output
    (RESULT lines left out) must be the same under every allocator.  NEEDS:
    an executable that must exist, else the workload is skipped."""

    def __init__(self, name, prog, args, kind, desc, prev=False, env=None,
                 check=False, needs=None):
        self.name, self.prog, self.args, self.kind = name, prog, args, kind
        self.desc, self.prev, self.env = desc, prev, env or {}
        self.check, self.needs = check, needs


WORKLOADS = [
    W("churn", "w_churn", [], "speed",
      "small-object churn: 100k live slots, random sizes 16..512 B, "
      "2M random slot replacements", prev=True),
    W("bulk", "w_bulk", [], "speed",
      "allocate 1M x 64 B, then free them all; 5 rounds", prev=True),
    W("realloc", "w_realloc", [], "speed",
      "256 buffers grown round-robin by 16..256 B steps up to 64 KiB; "
      "400k reallocs", prev=True),
    W("xthread", "w_xthread", [], "speed",
      "2 threads, each frees the other's blocks (Larson-like); "
      "100 rounds x 10k blocks of 16..512 B per thread", prev=True),
    W("prodcons", "w_prodcons", [], "speed",
      "producer mallocs 1M blocks of 16..256 B, consumer frees them "
      "(lock-free SPSC ring)", prev=True),
    W("large", "w_large", [], "speed",
      "32 live blocks of 64 KiB..4 MiB, 60k replacements, one byte "
      "written per block", prev=True),
    W("cxx_map", "w_cxx_map", [], "speed",
      "C++ std::map<std::string, std::string> insert/erase churn, "
      "~50k entries, 300k ops", prev=True),
    W("cache_scratch", "w_cache_scratch", ["2"], "speed",
      "false sharing (after Hoard's cache-scratch): 2 threads each free a "
      "small block the main thread allocated next to the others' blocks, "
      "then 16000 times malloc 8 B, write every byte 2000 times, free"),
    W("xmalloc", "w_xmalloc", ["4"], "speed",
      "many producers and consumers (after xmalloc-test): 2 producer "
      "threads malloc batches of 256 blocks of 8..1024 B onto a shared "
      "queue (at most 64 batches), 2 consumer threads free them; "
      "8000 batches"),
    W("larson4", "w_larson", ["4"], "speed",
      "server simulation (after Larson): 4 threads each replace random "
      "slots of their own 1000 blocks of 8..1000 B, in 20 generations of "
      "threads, each inheriting (and freeing) its predecessor's blocks; "
      "8M replacements in all"),
    W("larson8", "w_larson", ["8"], "speed",
      "the same with 8 threads (4x the cores), 8M replacements in all"),
    W("aligned", "w_aligned", ["8"], "speed",
      "8 threads each replace random slots of 512 live blocks by "
      "posix_memalign/aligned_alloc blocks of alignment 16..4096 and size "
      "16..2048 B, 150k replacements each; every alignment checked"),
    W("python", "w_exec",
      ["python", "/usr/bin/python3", "-S", "bench/real_python.py"], "speed",
      "real program: `/usr/bin/python3 -S bench/real_python.py` with "
      "PYTHONMALLOC=malloc (every object through malloc): word counts, "
      "dicts of lists of tuples, a 1.6 MB string split back, short-lived "
      "containers, a 60k-node binary tree; output checked",
      env={"PYTHONMALLOC": "malloc", "PYTHONHASHSEED": "0"}, check=True,
      needs="/usr/bin/python3"),
    W("perl", "w_exec", ["perl", "/usr/bin/perl", "bench/real_perl.pl"],
      "speed",
      "real program: `perl bench/real_perl.pl` (Debian's perl uses the "
      "system malloc): 100k hash records, a word count, an inverted index, "
      "join/split/regex substitution of ~100 kB strings; output checked",
      env={"PERL_HASH_SEED": "0", "PERL_PERTURB_KEYS": "0"}, check=True,
      needs="/usr/bin/perl"),
    W("startup", "w_startup", ["300"], "startup",
      "start-up: processes that each do one malloc(64) and exit, spawned "
      "one after the other, 300 per allocator and round, the allocators "
      "taking turns spawn by spawn (`w_startup interleave`); the "
      "allocator's load, initialisation and exit"),
    W("overhead", "w_overhead", [], "memory",
      "live set of mixed sizes (16 B..128 KiB) held at 200 MB through 500k "
      "free/refill steps, every block fully written; peak RSS"),
]

PEERS = [
    ("jemalloc", ["libjemalloc.so.2"]),
    ("mimalloc", ["libmimalloc.so.2"]),
    ("tcmalloc", ["libtcmalloc_minimal.so.4", "libtcmalloc.so.4"]),
]

RESULT_RE = re.compile(r"^RESULT (.*)$", re.M)

MACHINE_NOTE = ("2-core VM, first touch of a fresh page ~19 us, wall-clock "
                "is noisy, ratios from the same run")


def log(msg):
    print("bench: " + msg, flush=True)


def multiarch():
    for cc in ("gcc", "cc"):
        if shutil.which(cc):
            try:
                out = subprocess.run([cc, "-print-multiarch"],
                                     capture_output=True, text=True,
                                     timeout=20).stdout.strip()
            except (OSError, subprocess.SubprocessError):
                continue
            if out:
                return out
    return None


def ldconfig_cache():
    """soname -> [paths] from `ldconfig -p`."""
    exe = shutil.which("ldconfig")
    if not exe:
        for d in ("/sbin", "/usr/sbin"):
            if os.access(os.path.join(d, "ldconfig"), os.X_OK):
                exe = os.path.join(d, "ldconfig")
    cache = {}
    if not exe:
        return cache
    try:
        out = subprocess.run([exe, "-p"], capture_output=True, text=True,
                             timeout=20).stdout
    except (OSError, subprocess.SubprocessError):
        return cache
    for line in out.splitlines():
        m = re.match(r"\s*(\S+) \(([^)]*)\) => (\S+)", line)
        if m:
            cache.setdefault(m.group(1), []).append((m.group(2), m.group(3)))
    return cache


def find_library(sonames, cache, ma):
    dirs = []
    if ma:
        dirs += ["/usr/lib/" + ma, "/lib/" + ma]
    dirs += ["/usr/lib", "/lib"]
    machine = os.uname().machine.replace("_", "-")  # x86_64 -> x86-64
    for so in sonames:
        entries = cache.get(so, [])
        # Prefer the entry for this machine's architecture.
        entries = sorted(entries, key=lambda e: machine not in e[0])
        for _, path in entries:
            if os.path.exists(path):
                return path
        for d in dirs:
            path = os.path.join(d, so)
            if os.path.exists(path):
                return path
    return None


def child_env(preload, extra=None):
    env = dict(os.environ)
    # A heap restore requested by the caller's environment must not leak
    # into the benchmarks.
    for k in ("PMALLOC_RESTORE", "LD_PRELOAD"):
        env.pop(k, None)
    if preload:
        env["LD_PRELOAD"] = preload
    env.update(extra or {})
    return env


def run_once(binary, args, preload, timeout=180, env=None, output=None):
    """Run one workload; returns (result dict, None) or (None, error).
    When OUTPUT is a list, the program's standard output without its
    RESULT line is appended to it."""
    try:
        p = subprocess.run([binary] + args, env=child_env(preload, env),
                           capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, "timeout after %d s" % timeout
    except OSError as e:
        return None, str(e)
    if output is not None:
        output.append(RESULT_RE.sub("", p.stdout))
    m = RESULT_RE.search(p.stdout)
    if p.returncode != 0 or not m:
        err = (p.stderr or p.stdout).strip().splitlines()
        how = ("killed by signal %d" % -p.returncode if p.returncode < 0
               else "exit %d" % p.returncode)
        return None, how + ((": " + err[-1]) if err else "")
    return parse_result(m), None


def parse_result(m):
    """A RESULT line's key=value pairs (numbers as floats)."""
    res = {}
    for kv in m.group(1).split():
        k, _, v = kv.partition("=")
        try:
            res[k] = float(v)
        except ValueError:
            res[k] = v
    return res


def run_interleaved(binary, n, allocs, env=None, timeout=600):
    """The start-up workload: one `w_startup interleave` run in which the
    allocators take turns spawn by spawn.  Returns ({name: result}, None)
    or (None, error); on an error the caller finds the allocator that
    fails by running each alone."""
    spec = ["%s=%s" % (an, path or "") for an, path in allocs]
    try:
        p = subprocess.run([binary, "interleave", str(n)] + spec,
                           env=child_env(None, env), capture_output=True,
                           text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, "timeout after %d s" % timeout
    except OSError as e:
        return None, str(e)
    out = {}
    for m in RESULT_RE.finditer(p.stdout):
        res = parse_result(m)
        out[res.get("alloc")] = res
    if p.returncode != 0 or any(an not in out for an, _ in allocs):
        err = (p.stderr or p.stdout).strip().splitlines()
        return None, "exit %d%s" % (p.returncode,
                                    (": " + err[-1]) if err else "")
    return out, None


def discover(build, wanted, bindir):
    allocs = [("glibc", None)]
    notes = []
    so = os.path.join(build, "libpmalloc.so")
    if os.path.exists(so):
        allocs.append(("pmalloc", os.path.abspath(so)))
    else:
        notes.append("pmalloc: %s does not exist (library not built); "
                     "not benchmarked" % os.path.join(
                         os.path.basename(build), "libpmalloc.so"))
    cache = ldconfig_cache()
    ma = multiarch()
    for name, sonames in PEERS:
        path = find_library(sonames, cache, ma)
        if path:
            allocs.append((name, path))
        else:
            notes.append("%s: %s not installed; skipped"
                         % (name, " or ".join(sonames)))
    if wanted:
        allocs = [a for a in allocs if a[0] in wanted]
    # Smoke test: a short churn under each preload.
    ok = []
    probe = os.path.join(bindir, "w_churn")
    for name, path in allocs:
        res, err = run_once(probe, ["1000", "10000"], path, timeout=60)
        if res is None:
            notes.append("%s: smoke test failed (%s); skipped" % (name, err))
        else:
            ok.append((name, path))
    return ok, notes


def geomean(xs):
    xs = [x for x in xs if x and x > 0]
    if not xs:
        return None
    return math.exp(sum(math.log(x) for x in xs) / len(xs))


def fmt(x, nd=3):
    return "n/a" if x is None else ("%.*f" % (nd, x))


# ---- callgrind ------------------------------------------------------------

def callgrind_totals(path):
    with open(path) as f:
        for line in f:
            if line.startswith("totals:") or line.startswith("summary:"):
                return int(line.split()[1])
    return None


FALLBACK_ROW = ("pmalloc, `PMALLOC_MALLOC_DIRECT=0` (the fallback: the "
                "caller test on malloc's slow path)")


def run_callgrind(bindir, allocs, resdir, ops):
    """Ir per malloc+free pair inside cg_measure(), stub run subtracted."""
    if not shutil.which("valgrind"):
        return None, "valgrind not installed; instruction counts skipped"
    prog = os.path.join(bindir, "cg_churn")
    out = {}

    def one(tag, mode, preload, extra=None):
        f = os.path.join(resdir, "callgrind.%s.out" % tag)
        cmd = ["valgrind", "--tool=callgrind", "--toggle-collect=cg_measure",
               "--callgrind-out-file=" + f, prog, mode, str(ops)]
        try:
            p = subprocess.run(cmd, env=child_env(preload, extra),
                               capture_output=True, text=True, timeout=600)
        except subprocess.TimeoutExpired:
            return None
        if p.returncode != 0 or not os.path.exists(f):
            log("callgrind %s failed: %s" % (tag, p.stderr.strip()[-300:]))
            return None
        return callgrind_totals(f)

    stub = one("stub", "stub", None)
    if stub is None:
        return None, "callgrind stub run failed; instruction counts skipped"
    out["_stub"] = stub
    for name, path in allocs:
        log("callgrind: %s" % name)
        ir = one(name, "real", path)
        if ir is not None:
            out[name] = ir
        if name == "pmalloc":
            # the fallback routing (malloc's slow path makes the caller
            # test on every call): what a program gets where libc's and
            # ld.so's malloc pointers cannot be rewritten
            ir = one("pmalloc-nodirect", "real", path,
                     {"PMALLOC_MALLOC_DIRECT": "0"})
            if ir is not None:
                out[FALLBACK_ROW] = ir
    return out, None


# ---- checkpoint scripts ---------------------------------------------------

def run_ckpt_scripts(top, build, resdir):
    parts = []
    scripts = sorted(f for f in os.listdir(os.path.join(top, "bench"))
                     if f.startswith("ckpt_") and f.endswith(".sh"))
    env = dict(os.environ)
    env.update(PMALLOC_BUILD=os.path.abspath(build), PMALLOC_TOP=top,
               BENCH_RESULTS=resdir)
    env.pop("PMALLOC_RESTORE", None)
    for s in scripts:
        log("running bench/%s" % s)
        try:
            p = subprocess.run(["sh", os.path.join("bench", s)], cwd=top,
                               env=env, capture_output=True, text=True,
                               timeout=900)
            text, rc = p.stdout.rstrip(), p.returncode
        except subprocess.TimeoutExpired:
            text, rc = "", "timeout"
        if rc != 0:
            text += "\n\n*bench/%s failed (exit %s).*" % (s, rc)
        parts.append(text.strip())
    return parts


# ---- report ---------------------------------------------------------------

def write_report(out, allocs, results, notes, cg, cg_note, cg_ops, ckpt,
                 rounds, chart_rel):
    names = [a[0] for a in allocs]
    L = []
    L.append("# Performance")
    L.append("")
    L.append("Generated by `bench/run.py`; reproduce with `make bench` "
             "(%d round(s); `BENCH_ROUNDS=n`, `BENCH_ONLY=a,b` and "
             "`BENCH_ALLOCATORS=glibc,pmalloc,...` narrow a run). "
             "Raw numbers land in `bench/results/`." % rounds)
    L.append("")
    L.append("Machine: " + MACHINE_NOTE + ".  Each workload runs every "
             "allocator in turn, round after round, and the tables show "
             "medians; treat differences under ~10% as noise.")
    L.append("")
    L.append("Allocators: " + ", ".join(
        "%s (%s)" % (n, "libc" if p is None else os.path.basename(p))
        for n, p in allocs) + ", each through `LD_PRELOAD` except glibc.")
    for n in notes:
        L.append("")
        L.append("* " + n)
    L.append("")

    speed = [w for w in WORKLOADS if w.kind == "speed" and w.name in results]
    prev = [w for w in speed if w.prev]
    med = {}
    spread = {}
    for w in WORKLOADS:
        for n in names:
            xs = [r["secs"] for r in results.get(w.name, {}).get(n, [])]
            if xs:
                med[(w.name, n)] = statistics.median(xs)
                m = med[(w.name, n)]
                sp = (max(xs) - min(xs)) / m if m > 0 else 0
                spread[w.name] = max(spread.get(w.name, 0), sp)

    def ratio(w, n):
        g, a = med.get((w, "glibc")), med.get((w, n))
        if g is None or a is None or a <= 0:
            return None
        return g / a

    L.append("## Speed")
    L.append("")
    if chart_rel:
        L.append("![speed ratios to glibc](%s)" % chart_rel)
        L.append("")
    L.append("Speed relative to glibc = glibc median time / allocator "
             "median time: above 1 is faster than glibc.  \"geometric mean "
             "(all)\" covers every workload in this table; \"geometric mean "
             "(previous set)\" only the first seven (%s), the set reported "
             "before the multi-threaded and real-program workloads were "
             "added, so that older numbers stay comparable.  An allocator "
             "that failed a workload (\"n/a\") gets a mean over fewer "
             "workloads, marked \"(k of n)\"." % ", ".join(
                 w.name for w in WORKLOADS if w.prev))
    L.append("")
    L.append("| workload | " + " | ".join(n for n in names) + " |")
    L.append("|---|" + "---:|" * len(names))
    for w in speed:
        L.append("| %s | " % w.name + " | ".join(
            fmt(ratio(w.name, n), 2) for n in names) + " |")

    def gm_cell(n, ws):
        rs = [ratio(w.name, n) for w in ws]
        have = [x for x in rs if x]
        g = geomean(have)
        if g is None:
            return "n/a"
        # A mean over fewer workloads is not comparable: say so.
        return "**%.2f**" % g + ("" if len(have) == len(rs)
                                  else " (%d of %d)" % (len(have), len(rs)))
    L.append("| **geometric mean (all)** | " + " | ".join(
        gm_cell(n, speed) for n in names) + " |")
    if prev:
        L.append("| geometric mean (previous set) | " + " | ".join(
            gm_cell(n, prev).replace("**", "") for n in names) + " |")
    L.append("")
    L.append("Median seconds per run (spread = largest (max-min)/median "
             "over the allocators, a noise gauge):")
    L.append("")
    L.append("| workload | " + " | ".join(names) + " | spread |")
    L.append("|---|" + "---:|" * (len(names) + 1))
    for w in speed:
        L.append("| %s | " % w.name + " | ".join(
            fmt(med.get((w.name, n))) for n in names) +
            " | %d%% |" % round(100 * spread.get(w.name, 0)))
    L.append("")

    for w in [w for w in WORKLOADS
              if w.kind == "startup" and w.name in results]:
        ops = statistics.median(
            r["ops"] for rs in results[w.name].values() for r in rs)
        g = med.get((w.name, "glibc"))
        L.append("## Start-up (`%s`)" % w.name)
        L.append("")
        L.append("%d processes per allocator and round that each do one "
                 "malloc and exit, spawned one after the other, the "
                 "allocators taking turns spawn by spawn; time per process "
                 "(the median spawn, median over the rounds) and "
                 "\"vs glibc\" = allocator time / glibc time: **lower is "
                 "better**, below 1 starts faster than glibc." % ops)
        L.append("")
        L.append("| | " + " | ".join(names) + " | spread |")
        L.append("|---|" + "---:|" * (len(names) + 1))
        L.append("| ms per process | " + " | ".join(
            fmt(med[(w.name, n)] * 1000 / ops if (w.name, n) in med
                else None, 2) for n in names) +
            " | %d%% |" % round(100 * spread.get(w.name, 0)))
        L.append("| vs glibc | " + " | ".join(
            fmt(med[(w.name, n)] / g if g and (w.name, n) in med
                else None, 2) for n in names) + " |")
        L.append("")

    mem = [w for w in WORKLOADS if w.kind == "memory" and w.name in results]
    for w in mem:
        rss, live, base = {}, {}, {}
        for n in names:
            rs = results[w.name].get(n, [])
            if rs:
                rss[n] = statistics.median(r["maxrss_kb"] for r in rs) / 1024
                live[n] = statistics.median(
                    r.get("peak_live_kb", 0) for r in rs) / 1024
                base[n] = statistics.median(
                    r.get("base_kb", 0) for r in rs) / 1024
        g = rss.get("glibc")
        L.append("## Memory overhead (`%s`)" % w.name)
        L.append("")
        L.append("Peak RSS (VmHWM, MiB, median) with about %.0f MiB live at "
                 "the peak; \"vs glibc\" = allocator RSS / glibc RSS (below "
                 "1 uses less memory); \"overhead\" = (peak RSS - RSS before "
                 "the first allocation) / peak live bytes, where the start "
                 "RSS (~%.0f MiB: program, libraries, the benchmark's own "
                 "bookkeeping arrays) is left out."
                 % (statistics.median(live.values()) if live else 0,
                    statistics.median(base.values()) if base else 0))
        L.append("")
        L.append("| | " + " | ".join(names) + " |")
        L.append("|---|" + "---:|" * len(names))
        L.append("| peak RSS (MiB) | " + " | ".join(
            fmt(rss.get(n), 1) for n in names) + " |")
        L.append("| vs glibc | " + " | ".join(
            fmt(rss[n] / g if g and n in rss else None, 2)
            for n in names) + " |")
        L.append("| overhead | " + " | ".join(
            fmt((rss[n] - base[n]) / live[n] if live.get(n) else None, 2)
            for n in names) + " |")
        L.append("| time (s) | " + " | ".join(
            fmt(med.get((w.name, n))) for n in names) + " |")
        L.append("")

    L.append("## Instructions per operation (callgrind)")
    L.append("")
    if cg is None:
        L.append(cg_note or "Not run.")
    else:
        L.append(
            "Wall time is noisy here; instruction counts are repeatable. "
            "`bench/cg_churn` keeps 1000 live blocks of 16..256 B, warms "
            "up with 100k free+malloc pairs, then does %d pairs inside "
            "`cg_measure()`; `valgrind --tool=callgrind "
            "--toggle-collect=cg_measure` counts only that function and "
            "everything it calls.  The same loop run with two trivial "
            "stand-ins for malloc/free (`cg_churn stub`, %d Ir) is "
            "subtracted, so the figures are the allocator's own "
            "instructions (short by the stand-ins' few instructions, the "
            "same for every allocator).  Instructions are not time: cache "
            "misses and atomics cost more than their count."
            % (cg_ops, cg["_stub"]))
        L.append("")
        L.append("| allocator | Ir total | Ir per malloc+free pair | "
                 "Ir per call |")
        L.append("|---|---:|---:|---:|")
        for n in names + ([FALLBACK_ROW] if FALLBACK_ROW in cg else []):
            if n in cg:
                per = (cg[n] - cg["_stub"]) / cg_ops
                L.append("| %s | %d | %.1f | %.1f |"
                         % (n, cg[n], per, per / 2))
            else:
                L.append("| %s | failed | | |" % n)
    L.append("")

    # Sections written by hand after a run (their headings in HANDWRITTEN)
    # are carried over from the report this one replaces.
    L.extend(handwritten(out))

    L.append("## Workloads")
    L.append("")
    L.append("All in `bench/`, plain C using the malloc family (one C++), "
             "built with `-O2 -fno-builtin`; every block gets at least one "
             "byte written.  Each program prints its own elapsed time "
             "(CLOCK_MONOTONIC) and operation count; the real programs are "
             "started and timed by `bench/w_exec`, and their output must be "
             "the same under every allocator.")
    L.append("")
    for w in WORKLOADS:
        src = "bench/" + w.prog
        if w.prog == "w_exec":
            src = [x for x in w.args if x.startswith("bench/")][0]
        L.append("* `%s` (`%s`%s): %s." % (
            w.name, src,
            (" " + " ".join(w.args)) if w.args and w.prog != "w_exec"
            else "", w.desc))
    L.append("")

    L.append("## Checkpoint and restore")
    L.append("")
    if ckpt:
        L.append("\n\n".join(ckpt))
    else:
        L.append("To be filled by the checkpoint benchmarks (`bench/ckpt_*.sh`"
                 ": the runner executes every such script and appends its "
                 "markdown output here).")
    L.append("")
    with open(out, "w") as f:
        f.write("\n".join(L))


HANDWRITTEN = ("## Where pmalloc still loses",)


def handwritten(out):
    """The hand-written sections of the previous report at OUT: each from
    its heading (one starting as in HANDWRITTEN) to the next "## "."""
    try:
        with open(out) as f:
            lines = f.read().split("\n")
    except OSError:
        return []
    kept, on = [], False
    for line in lines:
        if line.startswith("## "):
            on = line.startswith(HANDWRITTEN)
        if on:
            kept.append(line)
    while kept and not kept[-1].strip():
        kept.pop()
    return kept + [""] if kept else []


def find_matplotlib_python():
    cands = [sys.executable, "/usr/bin/python3"]
    for c in cands:
        if c and os.access(c, os.X_OK):
            try:
                p = subprocess.run([c, "-c", "import matplotlib"],
                                   capture_output=True, timeout=60)
            except (OSError, subprocess.SubprocessError):
                continue
            if p.returncode == 0:
                return c
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--only", default="", help="comma-separated workloads")
    ap.add_argument("--allocators", default="",
                    help="comma-separated allocator names")
    ap.add_argument("--out", default="docs/PERFORMANCE.md")
    ap.add_argument("--chart", default="docs/perf.png")
    ap.add_argument("--cg-ops", type=int, default=200000)
    ap.add_argument("--no-callgrind", action="store_true")
    a = ap.parse_args()

    top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    os.chdir(top)
    bindir = os.path.join(a.build, "bench")
    resdir = os.path.join("bench", "results")
    os.makedirs(resdir, exist_ok=True)
    only = [x for x in a.only.split(",") if x]
    wanted = [x for x in a.allocators.split(",") if x]

    allocs, notes = discover(a.build, wanted, bindir)
    for n in notes:
        log(n)
    log("allocators: " + ", ".join(n for n, _ in allocs))
    if not any(n == "glibc" for n, _ in allocs):
        log("glibc is the reference; it cannot be left out")
        return 2

    known = [w.name for w in WORKLOADS]
    for x in only:
        if x not in known:
            log("unknown workload %r in --only (known: %s)"
                % (x, ",".join(known)))
            return 2
    workloads = []
    for w in WORKLOADS:
        if only and w.name not in only:
            continue
        if w.needs and not os.access(w.needs, os.X_OK):
            msg = "%s: %s not installed; skipped" % (w.name, w.needs)
            log(msg)
            notes.append(msg)
            continue
        workloads.append(w)
    results = {}
    failed = {}
    wrong = []
    raw = open(os.path.join(resdir, "raw.tsv"), "w")
    raw.write("workload\tallocator\tround\tsecs\tops\tmaxrss_kb\n")
    t_start = time.time()
    for w in workloads:
        name, prog, args = w.name, os.path.join(bindir, w.prog), w.args
        results[name] = {}
        outputs = {}
        for r in range(a.rounds):
            # Rotate the starting allocator so none always runs first.
            order = allocs[r % len(allocs):] + allocs[:r % len(allocs)]
            if w.kind == "startup":
                live = [x for x in order if (name, x[0]) not in failed]
                got, err = run_interleaved(prog, int(args[0]), live, w.env)
                if got is None:
                    # find who fails, alone; the others run again together
                    for an, path in live:
                        if run_interleaved(prog, 3, [(an, path)], w.env)[0] \
                                is None:
                            msg = "%s under %s failed in round %d (%s); " \
                                "its other rounds were skipped" % (
                                    name, an, r + 1, err)
                            log(msg)
                            failed[(name, an)] = msg
                    live = [x for x in live if (name, x[0]) not in failed]
                    got, err = run_interleaved(prog, int(args[0]), live,
                                               w.env) if live else ({}, None)
                    if got is None:
                        log("%s: round %d failed again (%s); skipped"
                            % (name, r + 1, err))
                        continue
                for an, res in got.items():
                    results[name].setdefault(an, []).append(res)
                    raw.write("%s\t%s\t%d\t%.6f\t%d\t%d\n" % (
                        name, an, r, res["secs"], res["ops"],
                        res["maxrss_kb"]))
                raw.flush()
                continue
            for an, path in order:
                if (name, an) in failed:
                    continue
                out = outputs.setdefault(an, []) if w.check else None
                res, err = run_once(prog, args, path, timeout=60, env=w.env,
                                    output=out)
                if res is None:
                    # One failure drops the pair: a hang would otherwise
                    # cost a timeout every round.
                    msg = "%s under %s failed in round %d (%s); its other " \
                        "rounds were skipped" % (name, an, r + 1, err)
                    log(msg)
                    failed[(name, an)] = msg
                    continue
                results[name].setdefault(an, []).append(res)
                raw.write("%s\t%s\t%d\t%.6f\t%d\t%d\n" % (
                    name, an, r, res["secs"], res["ops"], res["maxrss_kb"]))
                raw.flush()
        if w.check:
            # Same output under every allocator, glibc's the reference; a
            # wrong one fails the pair and the whole run.
            ref = outputs.get("glibc", [None])[0]
            for an, outs in outputs.items():
                bad = [o for o in outs if o != ref]
                if ref is None or not bad:
                    continue
                msg = ("**WRONG OUTPUT: %s under %s printed something "
                       "else than under glibc in %d of %d runs; its "
                       "results were dropped**" % (name, an, len(bad),
                                                    len(outs)))
                log("!" * 70)
                log(msg)
                log("expected: %r" % ref[:300])
                log("got:      %r" % bad[0][:300])
                log("!" * 70)
                with open(os.path.join(resdir, "wrong.%s.%s.txt"
                                       % (name, an)), "w") as f:
                    f.write("--- glibc\n%s--- %s\n%s" % (ref, an, bad[0]))
                results[name].pop(an, None)
                failed[(name, an)] = msg
                wrong.append(msg)
        log("%-9s " % name + "  ".join(
            "%s %.3fs" % (an, statistics.median(x["secs"] for x in rs))
            for an, rs in results[name].items()))
    raw.close()
    log("timed runs took %.0f s" % (time.time() - t_start))

    cg, cg_note = (None, "Skipped (`--no-callgrind`).")
    if not a.no_callgrind:
        cg, cg_note = run_callgrind(bindir, allocs, resdir, a.cg_ops)
        if cg:
            for n in cg:
                if n != "_stub":
                    log("callgrind %s: %.1f Ir per pair" % (
                        n, (cg[n] - cg["_stub"]) / a.cg_ops))

    ckpt = run_ckpt_scripts(top, a.build, resdir)

    # Chart data.
    names = [n for n, _ in allocs]
    data = {"allocators": names, "speed": {}, "memory": {},
            "note": MACHINE_NOTE}
    data["previous"] = [w.name for w in workloads
                        if w.kind == "speed" and w.prev]
    for w in workloads:
        meds = {n: statistics.median(x["secs"] for x in results[w.name][n])
                for n in names if results[w.name].get(n)}
        if w.kind == "speed" and "glibc" in meds:
            data["speed"][w.name] = {n: meds["glibc"] / m
                                     for n, m in meds.items() if m > 0}
        elif w.kind == "startup" and meds.get("glibc"):
            # Lower is better here, as for memory: allocator / glibc.
            data["memory"][w.name + " (time)"] = {
                n: m / meds["glibc"] for n, m in meds.items()}
        elif w.kind == "memory":
            rss = {n: statistics.median(x["maxrss_kb"]
                                        for x in results[w.name][n])
                   for n in names if results[w.name].get(n)}
            if "glibc" in rss:
                data["memory"][w.name + " (RSS)"] = {
                    n: v / rss["glibc"] for n, v in rss.items()}
    with open(os.path.join(resdir, "results.json"), "w") as f:
        json.dump({"chart": data, "raw": results, "callgrind": cg}, f,
                  indent=1)

    chart_rel = None
    py = find_matplotlib_python()
    if py is None:
        log("matplotlib not found (tried this python and /usr/bin/python3; "
            "Debian: apt-get install python3-matplotlib); chart skipped")
    else:
        p = subprocess.run([py, os.path.join("bench", "chart.py"),
                            os.path.join(resdir, "results.json"), a.chart])
        if p.returncode == 0:
            chart_rel = os.path.relpath(a.chart, os.path.dirname(a.out))
        else:
            log("chart.py failed; chart skipped")

    write_report(a.out, allocs, results, notes + list(failed.values()),
                 cg, cg_note, a.cg_ops, ckpt, a.rounds, chart_rel)
    log("wrote %s" % a.out)
    if wrong:
        log("FAILED: wrong output under an allocator:")
        for m in wrong:
            log("  " + m.strip("*"))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
