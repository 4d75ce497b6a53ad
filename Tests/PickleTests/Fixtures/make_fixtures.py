#!/usr/bin/env python3
"""Regenerates ../CPythonFixtures.swift: pickles written by real CPython, for PickleTests.

Run from anywhere with CPython 3.11 (the version DigitalPy runs on):

    python3 Tests/PickleTests/Fixtures/make_fixtures.py

For every fixture it records the bytes of `pickle.dumps(value, protocol=N)` (hex, with long
runs compressed as `[unit*count]`), a typed dump of the value (the same format
`typedDump(_:)` in TestSupport.swift writes, so the Swift test can compare decoded values
exactly, including types and dict/set order) and its FNV-1a 64 hash, and whether the Swift
encoder is expected to reproduce the bytes exactly (it cannot when the Python object graph
shares mutable objects, which a PickleValue cannot express).
"""
import os
import pickle
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(os.path.dirname(HERE), "CPythonFixtures.swift")


def dump(v):
    """Typed dump; keep in sync with typedDump(_:) in TestSupport.swift."""
    t = type(v)
    if v is None:
        return "N"
    if v is True:
        return "T"
    if v is False:
        return "F"
    if t is int:
        return "i%d;" % v
    if t is float:
        return "f" + struct.pack(">d", v).hex()
    if t is str:
        return "s" + v.encode("utf-8").hex() + ";"
    if t is bytes:
        return "b" + v.hex() + ";"
    if t is bytearray:
        return "B" + bytes(v).hex() + ";"
    if t is list:
        return "[" + ",".join(dump(x) for x in v) + "]"
    if t is tuple:
        return "(" + ",".join(dump(x) for x in v) + ")"
    if t is dict:
        return "{" + ",".join(dump(k) + ":" + dump(x) for k, x in v.items()) + "}"
    if t is set:
        return "S{" + ",".join(dump(x) for x in v) + "}"
    if t is frozenset:
        return "Z{" + ",".join(dump(x) for x in v) + "}"
    raise TypeError(t)


def fnv1a64(text):
    h = 0xCBF29CE484222325
    for byte in text.encode("utf-8"):
        h ^= byte
        h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def compress_hex(data):
    """Hex, with runs of a 1-4 byte unit (at least 32 bytes, 8 repeats) as [unit*count]."""
    out = []
    i = 0
    n = len(data)
    while i < n:
        best = None
        for unit in (1, 2, 3, 4):
            if i + unit > n:
                break
            pattern = data[i:i + unit]
            count = 1
            while data[i + count * unit:i + (count + 1) * unit] == pattern:
                count += 1
            if count >= 8 and count * unit >= 32 and (best is None or count * unit > best[0] * best[1]):
                best = (unit, count)
        if best:
            unit, count = best
            out.append("[%s*%d]" % (data[i:i + unit].hex(), count))
            i += unit * count
        else:
            out.append("%02x" % data[i])
            i += 1
    return "".join(out)


def fixtures():
    """(name, value, protocols, encodes_exactly)."""
    shared = []
    shared_filled = [1, 2]
    record_keys = [{"id": i, "name": "n%d" % i, "ok": i % 2 == 0} for i in range(3)]
    yield "digitalpy_body", {"payload": b"x" * 64, "seq": 5}, (0, 1, 2, 3, 4, 5), True
    yield "digitalpy_body_1k", {"payload": b"x" * 1024, "seq": 123456}, (2, 3, 4, 5), True
    yield "digitalpy_body_16k", {"payload": b"x" * 16384, "seq": 2**40}, (4,), True
    yield "nested", {
        "a": [1, 2, (3, "four", None)],
        "b": {"c": True, "d": False, "e": [[], {}], "f": -7},
        "t": (1, 2, 3, 4, 5),
        "u": ((1,), (2, 3), ((), [4])),
    }, (0, 1, 2, 3, 4, 5), True
    yield "ints", [0, 1, 255, 256, 65535, 65536, 2**31 - 1, -2**31, 2**31, -2**31 - 1,
                   2**63 - 1, -2**63, 2**64, -2**100, 2**2100, -(2**2100), -1, -128, -129,
                   -32768, -32769, 10**30], (0, 2, 3, 4, 5), True
    yield "floats", [0.0, -0.0, 1.5, -2.25, float("inf"), float("-inf"), 1e300, 5e-324, 0.1,
                     float("nan")], (0, 2, 4), True
    yield ("unicode", ["h\u00e9llo", "\u65e5\u672c\u8a9e", "emoji \U0001F389", "", "a" * 300,
                       "e\u0301", "\u00e9", "quote'\"\\\n\r\t\x00\x1a end", "\u00ff" * 3],
           (0, 2, 3, 4, 5), True)
    yield "empty_containers", [[], {}, (), set(), frozenset(), b"", "", bytearray()], (2, 3, 4, 5), True
    yield "bytearray", bytearray(b"abc\x00\xff"), (2, 3, 4, 5), True
    yield "bytearray_and_bytes_singletons", [bytearray(b"a"), b"a", bytearray(b"zz"), b"zz"], (2, 3, 4, 5), True
    # Below protocol 3, bytes are _codecs.encode(latin1_str, 'latin1'); CPython caches one-
    # character Latin-1 strings, so such a temporary is shared with an equal str ("\u00e9" here;
    # an ASCII literal like "a" is an interned constant, a different object, in CPython 3.11).
    yield "bytes_and_str_singletons", [b"\xe9", "\u00e9", b"ab", "ab", b"ab", b"a", b"a"], (2, 3, 4, 5), True
    yield "shared_empty_list", {"a": shared, "b": shared}, (2, 4), False
    yield "shared_filled_list", {"x": shared_filled, "y": [shared_filled, shared_filled]}, (2, 4), False
    yield "records_repeated_keys", record_keys, (2, 3, 4), True
    yield "list_1500", list(range(1500)), (2, 4), True
    yield "list_1001", [7] * 1001, (4,), True
    yield "dict_1000", {str(i): i for i in range(1000)}, (4,), True
    yield "dict_2001", {i: None for i in range(2001)}, (4,), True
    yield "set_small", {1, 2, 3}, (2, 3, 4, 5), True
    yield "frozenset_small", frozenset({4, 5}), (2, 3, 4, 5), True
    yield "set_1000", set(range(1000)), (4,), True
    yield "frames_big_bytes", {"a": b"x" * 70000, "b": 1}, (4, 5), True
    yield "frames_boundary", [b"y", b"x" * 65530, 5], (4,), True
    yield "frames_big_str", "\u00e9" * 40000, (4,), True
    yield "frames_many_ints", [7] * 70000, (4,), True
    yield "tuples", [(), (1,), (1, 2), (1, 2, 3), (1, 2, 3, 4), ((5, 6), [3])], (2, 4), True
    # Equal tuple constants are one object in CPython; the encoder shares only str and bytes.
    yield "repeated_tuple_constant", [(1, 2), (1, 2)], (2, 4), False
    yield "scalars_top", None, (2, 4), True
    yield "true_top", True, (0, 2, 4), True


def swift_string(text):
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def main():
    assert sys.version_info[:2] == (3, 11), "fixtures are defined as CPython 3.11's output"
    lines = [
        "// Generated by Fixtures/make_fixtures.py with CPython %s. Do not edit by hand."
        % sys.version.split()[0],
        "// Pickle hex uses [unit*count] for long runs; see expandHex(_:) in TestSupport.swift.",
        "",
        "let cpythonFixtures: [Fixture] = [",
    ]
    for name, value, protocols, exact in fixtures():
        d = dump(value)
        for proto in protocols:
            data = pickle.dumps(value, protocol=proto)
            again = pickle.loads(data)
            assert dump(again) == d or name == "floats", name
            lines.append(
                "    Fixture(name: %s, protocolVersion: %d, pickle: %s, dump: %s, dumpHash: 0x%016x, "
                "encodesExactly: %s),"
                % (
                    swift_string(name),
                    proto,
                    swift_string(compress_hex(data)),
                    swift_string(d) if len(d) <= 4000 else "nil",
                    fnv1a64(d),
                    "true" if exact and proto >= 2 else "false",
                )
            )
    lines.append("]")
    with open(OUT, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("wrote", OUT)


if __name__ == "__main__":
    main()
