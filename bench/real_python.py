# real_python.py - an allocation-heavy Python script for bench/run.py.
# Run as `python3 -S bench/real_python.py` with PYTHONMALLOC=malloc (every
# object through the C allocator) and PYTHONHASHSEED=0.  Deterministic: it
# prints the same lines under every allocator.


def lcg(x):
    return (x * 1103515245 + 12345) & 0x7FFFFFFF


def main():
    # Strings and a word count.
    x, words = 12345, []
    for _ in range(150000):
        x = lcg(x)
        words.append("w%d_%s" % (x % 7919, "ab" * (x % 13)))
    counts = {}
    for w in words:
        counts[w] = counts.get(w, 0) + 1
    # An index of lists of tuples.
    index = {}
    for i, w in enumerate(words):
        index.setdefault(w[:4], []).append((i, w, len(w)))
    # A big string built and split again.
    text = ";".join("%s=%d" % (k, counts[k]) for k in sorted(counts))
    back = dict(kv.split("=") for kv in text.split(";"))
    # Short-lived containers, as an interpreter's temporaries are.
    total = 0
    for r in range(12):
        objs = [[j, str(j), (j, r)] for j in range(15000)]
        table = {j: {"v": j, "s": "x" * (j % 40)} for j in range(15000)}
        total += sum(len(o[1]) for o in objs)
        total += sum(len(t["s"]) for t in table.values())
        del objs, table
    # A class-based tree, built and walked.
    class Node:
        __slots__ = ("k", "l", "r")

        def __init__(self, k):
            self.k, self.l, self.r = k, None, None

    root = Node(0)
    x = 99
    for _ in range(60000):
        x = lcg(x)
        k, n = x % 1000003, root
        while True:
            if k < n.k:
                if n.l is None:
                    n.l = Node(k)
                    break
                n = n.l
            else:
                if n.r is None:
                    n.r = Node(k)
                    break
                n = n.r
    depth_sum, stack = 0, [(root, 0)]
    while stack:
        n, d = stack.pop()
        depth_sum += d
        if n.l:
            stack.append((n.l, d + 1))
        if n.r:
            stack.append((n.r, d + 1))
    print("words", len(words), "distinct", len(counts), "index", len(index))
    print("text", len(text), text[:40], text[-40:], len(back))
    print("total", total, "depth_sum", depth_sum)


main()
