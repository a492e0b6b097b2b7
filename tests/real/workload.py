"""workload.py - a deterministic allocation-heavy Python run for
tests/real_python.sh: dicts, lists, strings, json round trips, sorts.

Prints its results to stdout.  With a file name argument it also writes
there, not to stdout, the address of a large object (CPython hands objects
of more than 512 bytes to malloc, and id() is the address) and the Rss of
the mappings that /proc/self/smaps shows in the heap region.
"""
import json
import sys
import zlib


def lcg(seed):
    x = seed
    while True:
        x = (x * 6364136223846793005 + 1442695040888963407) % (1 << 64)
        yield x >> 33


def words(rng, n):
    letters = "abcdefghijklmnopqrstuvwxyz"
    out = []
    for _ in range(n):
        k = 1 + next(rng) % 12
        out.append("".join(letters[next(rng) % 26] for _ in range(k)))
    return out


def main():
    rng = lcg(12345)
    digest = 0

    # Strings and lists.
    ws = words(rng, 60000)
    print("words", len(ws), sum(map(len, ws)))
    text = " ".join(ws)
    digest = zlib.crc32(text.encode(), digest)
    print("text", len(text), "%08x" % digest)

    # Dicts: counts, nested structures, deletions.
    counts = {}
    for w in ws:
        counts[w] = counts.get(w, 0) + 1
    print("distinct", len(counts))
    top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:10]
    print("top", top)
    for w in list(counts)[::3]:
        del counts[w]
    print("after-del", len(counts))

    records = []
    for i in range(20000):
        r = {
            "id": i,
            "name": ws[i % len(ws)] * (1 + i % 5),
            "tags": [ws[(i * 7 + j) % len(ws)] for j in range(i % 6)],
            "score": (next(rng) % 100000) / 7.0,
            "nested": {"a": [i, i * 2, str(i)], "b": None, "c": i % 2 == 0},
        }
        records.append(r)

    # json round trip, several times, growing.
    blob = json.dumps(records, sort_keys=True)
    digest = zlib.crc32(blob.encode(), digest)
    print("json", len(blob), "%08x" % digest)
    back = json.loads(blob)
    print("json-equal", back == records)
    for rnd in range(3):
        back = json.loads(json.dumps(back, indent=rnd + 1, sort_keys=True))
        back.append({"round": rnd, "pad": "x" * (1000 * (rnd + 1))})
    print("json-rounds", len(back), back[-1]["round"])

    # Sorts of various shapes.
    nums = [next(rng) % 1000003 for _ in range(200000)]
    s1 = sorted(nums)
    s2 = sorted(nums, reverse=True)
    print("sort", s1[:5], s1[-5:], s2[0] == s1[-1])
    recs = sorted(records, key=lambda r: (r["score"], r["id"]))
    print("sort-recs", [r["id"] for r in recs[:8]])
    ws.sort(key=lambda w: (len(w), w))
    print("sort-words", ws[:5], ws[-3:])

    # Growth and shrinkage of big containers, bytes and bytearrays.
    big = []
    for i in range(100000):
        big.append(("k%d" % i, i, [i] * (i % 4)))
    del big[::2]
    print("big", len(big), big[-1][0])
    ba = bytearray()
    for i in range(5000):
        ba += bytes([i % 256]) * (i % 97)
    digest = zlib.crc32(bytes(ba), digest)
    print("bytearray", len(ba), "%08x" % digest)
    sets = [set(range(i, i + 300)) for i in range(0, 30000, 100)]
    inter = set.intersection(*sets[:3])
    print("sets", len(sets), len(inter), sum(len(s) for s in sets))
    print("digest", "%08x" % digest)

    if len(sys.argv) > 1:
        big_obj = b"q" * 100000
        lo = int(sys.argv[2], 16) if len(sys.argv) > 2 else 0xE0000000
        hi = lo + (4 << 30)
        rss = 0
        inside = False
        with open("/proc/self/smaps") as f:
            for line in f:
                head = line.split()[0]
                if "-" in head and not head.endswith(":"):
                    a, b = (int(x, 16) for x in head.split("-"))
                    inside = a >= lo and b <= hi
                elif inside and line.startswith("Rss:"):
                    rss += int(line.split()[1])
        with open(sys.argv[1], "w") as f:
            f.write("addr=0x%x region_rss_kb=%d\n" % (id(big_obj), rss))


main()
