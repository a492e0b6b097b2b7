# pmalloc-gdb.py - gdb commands that show what pmalloc knows about its heap.
#
# Installed as <gdb data dir>/auto-load/<libdir>/libpmalloc.so.1.0.0-gdb.py,
# so gdb loads it with libpmalloc.so; or load it by hand:
#     (gdb) source tools/gdb/pmalloc-gdb.py
#
#   pmalloc heap          the region, both arenas (range, top, used and free
#                         bytes), a walk of their chunks, the thread caches
#   pmalloc block ADDR    the chunk that holds ADDR: start, size, state,
#                         arena, where ADDR falls in it
#   pmalloc roots         the named roots (pm_root_set) and what they point at
#   pmalloc base [ADDR]   where to look for the region when the library has
#                         no symbols (default: PMALLOC_BASE's 0xe0000000)
#   pmalloc layout        where the structure offsets come from
#
# It works on a live process and on a core file; it only reads memory.
# The region is found through the library's pm__region pointer (debug info
# or the symbol table); failing that, by its magic at the base address.
# Structure offsets come from the debug info when there is some, else from
# the built-in x86-64 layout below (src/internal.h, region version 5).
# A damaged heap is reported, never followed blindly: every read is
# checked, every walk is bounded.
#
# Chunk layout (src/chunk.h): prev_foot at +0, head at +8 (size | CINUSE 2 |
# PINUSE 1 | EARLY 4), user memory at +16.  A block freed into a thread
# cache or a fast list is still CINUSE, with the process's free key in its
# 2nd word: random for each process (pm__free_key), read from the symbol,
# or without symbols from a block on a thread cache.

import gdb

MAGIC = 0x31434F4C4C414D50  # "PMALLOC1"
FREE_KEY = [None]  # this process's mark of a cached block, once known
DEFAULT_BASE = 0xE0000000
PINUSE, CINUSE, EARLY = 1, 2, 4
MINCHUNK = 32
WALK_LIMIT = 2000000  # chunks per arena walk
WINDOW = 1 << 16      # bytes read at once during a walk

# Built-in layout (x86-64, region header version 5).
BUILTIN = {
    "region": {"magic": 0, "version": 8, "header_size": 12, "base": 16,
               "size": 24, "tbase": 32, "p": 40, "tcaches": 2728,
               "roots": 2736, "checkpoints": 7344},
    "arena": {"lo": 0, "hi": 8, "top": 16, "top_end": 24, "zero_from": 32,
              "live_bytes": 2120, "free_bytes": 2128, "released": 2136,
              "fast_bytes": 2656, "peak": 2680},
    "root": {"name": 0, "ptr": 64, "sizeof": 72, "count": 64},
    "tcache": {"head": 8, "stride": 16, "nclass": 97, "next": 1552},
}


class HeapError(Exception):
    """Something the heap's own bytes contradict; the message says what."""


def _mem(addr, n):
    try:
        return bytes(gdb.selected_inferior().read_memory(addr, n))
    except (gdb.MemoryError, gdb.error, OverflowError, ValueError) as e:
        raise HeapError("cannot read %d bytes at 0x%x (%s)" % (n, addr, e))


def _u64(addr):
    return int.from_bytes(_mem(addr, 8), "little")


def _u32(addr):
    return int.from_bytes(_mem(addr, 4), "little")


def _size(n):
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift:
            return "%d bytes (%.1f %s)" % (n, n / float(1 << shift), unit)
    return "%d bytes" % n


def _debug_layout():
    """Offsets from the debug info, or None without it."""
    try:
        region = gdb.lookup_type("struct pm_region")
        arena = gdb.lookup_type("struct pm_arena")
        root = gdb.lookup_type("struct pm_root")
    except gdb.error:
        return None
    try:
        lay = {"region": {}, "arena": {}, "root": {}}
        rf = {f.name: f for f in region.fields()}
        af = {f.name: f for f in arena.fields()}
        of = {f.name: f for f in root.fields()}
        for k in BUILTIN["region"]:
            lay["region"][k] = rf[k].bitpos // 8
        for k in BUILTIN["arena"]:
            lay["arena"][k] = af[k].bitpos // 8
        lay["root"]["name"] = of["name"].bitpos // 8
        lay["root"]["ptr"] = of["ptr"].bitpos // 8
        lay["root"]["sizeof"] = root.sizeof
        lay["root"]["count"] = rf["roots"].type.sizeof // root.sizeof
        tc = {f.name: f for f in gdb.lookup_type("struct pm_tcache").fields()}
        tl = gdb.lookup_type("struct pm_tc_list")
        tlf = {f.name: f for f in tl.fields()}
        lay["tcache"] = {"head": (tc["lists"].bitpos + tlf["head"].bitpos) // 8,
                         "stride": tl.sizeof,
                         "nclass": tc["lists"].type.sizeof // tl.sizeof,
                         "next": tc["next"].bitpos // 8}
        return lay
    except (KeyError, gdb.error, AttributeError, ZeroDivisionError):
        return None


class Settings:
    base = 0  # 0: automatic


def _symbol_value(name):
    """An address-sized global of the library, or None."""
    for expr in ("(unsigned long)%s" % name,
                 "*(unsigned long *)&'%s'" % name):
        try:
            return int(gdb.parse_and_eval(expr)) & 0xFFFFFFFFFFFFFFFF
        except (gdb.error, gdb.MemoryError, RuntimeError):
            continue
    return None


class Heap:
    """The region as read now.  Raises HeapError when there is none."""

    def __init__(self):
        self.notes = []
        if gdb.selected_inferior().pid == 0:
            raise HeapError("no process: run the program, attach to one or "
                            "open a core file first")
        dbg = _debug_layout()
        self.layout = dbg or BUILTIN
        self.layout_from = "debug info" if dbg else "built-in x86-64 layout"
        self.base, self.found_by = self._find()
        R = self.layout["region"]
        b = self.base
        self.version = _u32(b + R["version"])
        self.header_size = _u32(b + R["header_size"])
        self.size = _u64(b + R["size"])
        self.tbase = _u64(b + R["tbase"])
        rbase = _u64(b + R["base"])
        if rbase != b:
            raise HeapError("region header at 0x%x says its base is 0x%x"
                            % (b, rbase))
        if not (b < self.tbase < b + self.size) or self.size > 1 << 47:
            raise HeapError("region header at 0x%x: size 0x%x, transient "
                            "base 0x%x do not fit" % (b, self.size,
                                                      self.tbase))
        self.arenas = [("persistent", b + R["p"]),
                       ("transient", self._transient())]
        FREE_KEY[0] = self._free_key()

    def _free_key(self):
        """The mark of a cached block: the library's pm__free_key, or the
        2nd word of the first block found on a thread cache."""
        k = _symbol_value("pm__free_key")
        if k is not None:
            return k
        T = self.layout["tcache"]
        try:
            tc, n = _u64(self.base + self.layout["region"]["tcaches"]), 0
            while tc and n < 4096 and self.base <= tc < self.tbase:
                for i in range(T["nclass"]):
                    b = _u64(tc + T["head"] + T["stride"] * i)
                    if b and self.base <= b < self.tbase:
                        return _u64(b + 8)
                tc, n = _u64(tc + T["next"]), n + 1
        except HeapError:
            pass
        return None

    def _find(self):
        R = self.layout["region"]
        tried = []
        p = _symbol_value("pm__region")
        if p is not None:
            if p == 0:
                raise HeapError("pm__region is NULL: the heap is not "
                                "initialised yet (no allocation so far)")
            return self._check_magic(p, "pm__region"), "pm__region"
        tried.append("no symbol pm__region")
        for cand in [Settings.base, DEFAULT_BASE]:
            if not cand:
                continue
            try:
                if _u64(cand + R["magic"]) == MAGIC:
                    return cand, "magic at 0x%x" % cand
                tried.append("no magic at 0x%x" % cand)
            except HeapError:
                tried.append("0x%x unreadable" % cand)
        raise HeapError("no pmalloc heap found (%s); if PMALLOC_BASE was set, "
                        "say `pmalloc base ADDR`" % ", ".join(tried))

    def _check_magic(self, p, what):
        m = _u64(p + self.layout["region"]["magic"])
        if m != MAGIC:
            raise HeapError("%s = 0x%x but the magic there is 0x%x, not "
                            "0x%x" % (what, p, m, MAGIC))
        return p

    def _transient(self):
        t = _symbol_value("pm__transient")
        if t and t != self.tbase:
            self.notes.append("pm__transient = 0x%x, not the region's tbase "
                              "0x%x" % (t, self.tbase))
        return self.tbase

    def arena(self, addr):
        A = self.layout["arena"]
        a = {k: _u64(addr + off) for k, off in A.items()}
        a["addr"] = addr
        a["first"] = (a["lo"] + 15) & ~15
        problems = []
        if not (a["lo"] <= a["top"] < a["top_end"] <= a["hi"]):
            problems.append("lo 0x%x <= top 0x%x < top_end 0x%x <= hi 0x%x "
                            "does not hold" % (a["lo"], a["top"],
                                               a["top_end"], a["hi"]))
        if a["top"] & 15:
            problems.append("top 0x%x is not 16-aligned" % a["top"])
        if not (self.base <= a["lo"] and a["hi"] <= self.base + self.size):
            problems.append("range [0x%x, 0x%x) is outside the region"
                            % (a["lo"], a["hi"]))
        a["problems"] = problems
        return a

    def arena_of(self, addr):
        if self.base <= addr < self.tbase:
            return "persistent", self.arenas[0][1]
        if self.tbase <= addr < self.base + self.size:
            return "transient", self.arenas[1][1]
        return None, None


class Reader:
    """Reads an arena's words through a window, so a walk costs few reads."""

    def __init__(self):
        self.lo = self.hi = 0
        self.buf = b""

    def u64(self, addr):
        if not (self.lo <= addr and addr + 8 <= self.hi):
            n = WINDOW
            while True:
                try:
                    self.buf = bytes(gdb.selected_inferior().read_memory(
                        addr, n))
                    break
                except (gdb.MemoryError, gdb.error):
                    if n <= 8:
                        raise HeapError("cannot read memory at 0x%x" % addr)
                    n //= 8
            self.lo, self.hi = addr, addr + n
        o = addr - self.lo
        return int.from_bytes(self.buf[o:o + 8], "little")


def walk(a, until=None):
    """Yield (chunk, size, head, state) from the arena's first chunk to top;
    state: 'in use', 'freed' (cached / fast list), 'free', 'top', or
    'corrupt: ...' (then stops).  Stops after the chunk holding `until`."""
    rd = Reader()
    c, top, n = a["first"], a["top"], 0
    while c < top:
        n += 1
        if n > WALK_LIMIT:
            yield c, 0, 0, "stopped: more than %d chunks" % WALK_LIMIT
            return
        try:
            head = rd.u64(c + 8)
        except HeapError as e:
            yield c, 0, 0, "corrupt: %s" % e
            return
        sz = head & ~15
        if sz < MINCHUNK or c + sz > top:
            yield c, sz, head, ("corrupt: chunk at 0x%x has head 0x%x (size "
                                "0x%x) that does not reach top 0x%x tidily"
                                % (c, head, sz, top))
            return
        if head & CINUSE:
            try:
                key = rd.u64(c + 24)
            except HeapError:
                key = 0
            state = ("freed" if FREE_KEY[0] is not None and key == FREE_KEY[0]
                     else "in use")
        else:
            state = "free"
        yield c, sz, head, state
        if until is not None and c <= until < c + sz:
            return
        c += sz
    if c != top:
        yield c, 0, 0, "corrupt: the chunks end at 0x%x, past top 0x%x" % (
            c, top)
        return
    try:
        head = rd.u64(top + 8)
    except HeapError as e:
        yield top, 0, 0, "corrupt: top unreadable: %s" % e
        return
    yield top, head & ~15, head, "top"


STATE_TEXT = {
    "in use": "in use",
    "freed": "freed, waiting in a thread cache or a fast list "
             "(marked in use, 2nd word PM_FREE_KEY)",
    "free": "free, in a bin",
    "top": "free: the top chunk (the arena's unused end)",
}


def _heap():
    try:
        return Heap()
    except HeapError as e:
        raise gdb.GdbError("pmalloc: %s" % e)


class PmallocPrefix(gdb.Command):
    """Show pmalloc's heap: pmalloc heap | block ADDR | roots | base | layout"""

    def __init__(self):
        super().__init__("pmalloc", gdb.COMMAND_DATA, gdb.COMPLETE_NONE, True)


class PmallocHeap(gdb.Command):
    """Show the pmalloc region, its arenas and a walk of their chunks.
Usage: pmalloc heap"""

    def __init__(self):
        super().__init__("pmalloc heap", gdb.COMMAND_DATA)

    def invoke(self, arg, from_tty):
        h = _heap()
        print("pmalloc region at 0x%x, %s reserved (header version %d, "
              "%d bytes; found by %s; %s)" % (
                  h.base, _size(h.size), h.version, h.header_size,
                  h.found_by, h.layout_from))
        for n in h.notes:
            print("  note: %s" % n)
        for name, addr in h.arenas:
            try:
                self.show_arena(h, name, addr)
            except HeapError as e:
                print("%s arena: %s" % (name, e))
        self.show_misc(h)

    def show_arena(self, h, name, addr):
        a = h.arena(addr)
        print("%s arena [0x%x, 0x%x), header at 0x%x" % (name, a["lo"],
                                                          a["hi"], addr))
        print("  top 0x%x, committed to 0x%x, used %s" % (
            a["top"], a["top_end"], _size(a["top"] - a["first"])))
        print("  live %s, free in bins %s, in fast lists %s, released %s, "
              "peak %s" % (_size(a["live_bytes"]), _size(a["free_bytes"]),
                           _size(a["fast_bytes"]), _size(a["released"]),
                           _size(a["peak"])))
        for p in a["problems"]:
            print("  CORRUPT: %s" % p)
        if a["problems"]:
            return
        count = {"in use": [0, 0], "freed": [0, 0], "free": [0, 0]}
        topsz = None
        for c, sz, head, state in walk(a):
            if state == "top":
                topsz = sz
            elif state in count:
                count[state][0] += 1
                count[state][1] += sz
            else:
                print("  CORRUPT: %s" % state[len("corrupt: "):]
                      if state.startswith("corrupt") else "  %s" % state)
        print("  chunks: %d in use (%s), %d freed in caches (%s), "
              "%d free (%s)" % (count["in use"][0], _size(count["in use"][1]),
                                count["freed"][0], _size(count["freed"][1]),
                                count["free"][0], _size(count["free"][1])))
        if topsz is not None:
            print("  top chunk: %s free" % _size(topsz))
        if count["free"][1] != a["free_bytes"] and topsz is not None:
            print("  note: free chunks sum to %d, the header says %d" % (
                count["free"][1], a["free_bytes"]))

    def show_misc(self, h):
        R = h.layout["region"]
        try:
            ckpts = _u64(h.base + R["checkpoints"])
            tc, n, seen = _u64(h.base + R["tcaches"]), 0, set()
            while tc and n < 100000:
                if tc in seen or not (h.base <= tc < h.tbase):
                    print("thread caches: list broken at 0x%x" % tc)
                    break
                seen.add(tc)
                n += 1
                tc = _u64(tc + h.layout["tcache"]["next"])
            print("thread caches: %d; checkpoints taken of this heap: %d"
                  % (n, ckpts))
        except HeapError as e:
            print("thread caches: %s" % e)


class PmallocBlock(gdb.Command):
    """Show the pmalloc chunk that holds an address.
Usage: pmalloc block EXPR
Prints the chunk's start, size, state (in use, freed into a cache, free,
top) and arena, and where the address falls in it."""

    def __init__(self):
        super().__init__("pmalloc block", gdb.COMMAND_DATA,
                         gdb.COMPLETE_EXPRESSION)

    def invoke(self, arg, from_tty):
        if not arg.strip():
            raise gdb.GdbError("usage: pmalloc block EXPR")
        try:
            addr = int(gdb.parse_and_eval(arg)) & 0xFFFFFFFFFFFFFFFF
        except (gdb.error, ValueError) as e:
            raise gdb.GdbError("pmalloc block: %s" % e)
        h = _heap()
        for line in describe(h, addr):
            print(line)


def describe(h, addr):
    out = []
    name, aaddr = h.arena_of(addr)
    if name is None:
        return ["0x%x is not in the pmalloc heap [0x%x, 0x%x)" % (
            addr, h.base, h.base + h.size)]
    try:
        a = h.arena(aaddr)
    except HeapError as e:
        return ["0x%x: %s arena header unreadable: %s" % (addr, name, e)]
    if a["problems"]:
        return ["0x%x: %s arena header is corrupt: %s" % (
            addr, name, "; ".join(a["problems"]))]
    if addr < a["first"]:
        what = ("the region header (struct pm_region)" if name ==
                "persistent" else "the transient arena's header")
        return ["0x%x is in %s at 0x%x, not in a block" % (
            addr, what, h.base if name == "persistent" else aaddr)]
    if addr >= a["top_end"]:
        return ["0x%x is in the %s arena's reserved space past its committed "
                "end 0x%x (never handed out)" % (addr, name, a["top_end"])]
    for c, sz, head, state in walk(a, until=addr):
        if state.startswith("corrupt") or state.startswith("stopped"):
            out.append("0x%x: the %s arena walk stopped before it: %s" % (
                addr, name, state))
            return out
        if not (c <= addr < c + sz):
            continue
        mem = c + 16
        flags = []
        if head & PINUSE:
            flags.append("PINUSE")
        if head & CINUSE:
            flags.append("CINUSE")
        if head & EARLY:
            flags.append("EARLY")
        out.append("chunk 0x%x, size %d (0x%x), %s arena, head 0x%x [%s]" % (
            c, sz, sz, name, head, "|".join(flags) or "no flags"))
        out.append("  state: %s" % STATE_TEXT[state])
        if state == "in use":
            out.append("  block (what malloc returned) 0x%x, %d usable bytes"
                       % (mem, sz - 8))
            if head & EARLY:
                out.append("  made by a constructor before main(): a "
                           "restore may replace it")
        if state == "free":
            try:
                foot = _u64(c + sz)
                nhead = _u64(c + sz + 8)
                if foot != sz:
                    out.append("  CORRUPT: next chunk's prev_foot is %d, not "
                               "%d" % (foot, sz))
                if nhead & PINUSE:
                    out.append("  CORRUPT: next chunk's PINUSE is set")
                out.append("  links: fd 0x%x, bk 0x%x" % (
                    _u64(c + 16), _u64(c + 24)))
            except HeapError as e:
                out.append("  next chunk unreadable: %s" % e)
        if addr < mem:
            out.append("  0x%x is in the chunk header (%s)" % (
                addr, "prev_foot" if addr < c + 8 else "head"))
        else:
            out.append("  0x%x is at offset %d of the block 0x%x" % (
                addr, addr - mem, mem))
        return out
    out.append("0x%x: no chunk of the %s arena holds it" % (addr, name))
    return out


def short(h, ptr):
    """One line about what ptr points at."""
    if not ptr:
        return "NULL"
    lines = describe(h, ptr)
    if not lines[0].startswith("chunk "):
        return lines[0]
    state = lines[1].split(": ", 1)[1].split(",")[0]
    return "%s, %s" % (state, lines[-1].strip())


class PmallocRoots(gdb.Command):
    """List pmalloc's named roots (pm_root_set) and what they point at.
Usage: pmalloc roots"""

    def __init__(self):
        super().__init__("pmalloc roots", gdb.COMMAND_DATA)

    def invoke(self, arg, from_tty):
        h = _heap()
        R, T = h.layout["region"], h.layout["root"]
        n = 0
        for i in range(T["count"]):
            e = h.base + R["roots"] + i * T["sizeof"]
            try:
                raw = _mem(e + T["name"], T["ptr"] - T["name"])
                ptr = _u64(e + T["ptr"])
            except HeapError as err:
                print("root %d: %s" % (i, err))
                return
            if not raw[:1] or raw[0] == 0:
                continue
            nul = raw.find(b"\0")
            if nul < 0:
                print("root %d: CORRUPT: name not terminated" % i)
                continue
            name = raw[:nul].decode("utf-8", "replace")
            where = short(h, ptr)
            print("%-24s 0x%x  %s" % (name, ptr, where))
            n += 1
        print("%d root%s" % (n, "" if n == 1 else "s"))


class PmallocBase(gdb.Command):
    """Where to look for the pmalloc region when the library has no symbols.
Usage: pmalloc base [ADDR]   (0: automatic)"""

    def __init__(self):
        super().__init__("pmalloc base", gdb.COMMAND_DATA,
                         gdb.COMPLETE_EXPRESSION)

    def invoke(self, arg, from_tty):
        if arg.strip():
            try:
                Settings.base = int(gdb.parse_and_eval(arg))
            except (gdb.error, ValueError) as e:
                raise gdb.GdbError("pmalloc base: %s" % e)
        print("pmalloc base: %s" % ("0x%x" % Settings.base if Settings.base
                                    else "automatic (pm__region, then 0x%x)"
                                    % DEFAULT_BASE))


class PmallocLayout(gdb.Command):
    """Where the structure offsets come from, and whether the built-in ones
still match the debug info.  Usage: pmalloc layout"""

    def __init__(self):
        super().__init__("pmalloc layout", gdb.COMMAND_DATA)

    def invoke(self, arg, from_tty):
        dbg = _debug_layout()
        if dbg is None:
            print("pmalloc layout: no debug info; built-in x86-64 layout")
            return
        diff = ["%s.%s: debug info %d, built-in %d" % (s, k, dbg[s][k],
                                                        BUILTIN[s][k])
                for s in BUILTIN for k in BUILTIN[s]
                if dbg[s][k] != BUILTIN[s][k]]
        if diff:
            print("pmalloc layout: debug info differs from the built-in "
                  "layout: " + "; ".join(diff))
        else:
            print("pmalloc layout: debug info matches the built-in layout")


PmallocPrefix()
PmallocHeap()
PmallocBlock()
PmallocRoots()
PmallocBase()
PmallocLayout()
