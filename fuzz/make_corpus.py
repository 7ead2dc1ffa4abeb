#!/usr/bin/env python3
"""Writes the seed corpus (fuzz/corpus/) for fuzz_alloc.cpp.

Each operation is 5 bytes: [code | lane << 4 | extra << 5, slot, size
selector, value low, value high].  The seeds cover each operation, both
lanes, small and large sizes and a thread restart; the fuzzer mutates from
there.  Re-run after changing the encoding: python3 fuzz/make_corpus.py
"""
import os
import struct

def op(code, lane=0, slot=0, sel=1, value=100, extra=0):
    return bytes([code | lane << 4 | extra << 5, slot, sel]) + struct.pack("<H", value)

seeds = {
    "malloc_free": op(0, 0, 1, 1, 100) + op(8, 0, 1),
    "cross_thread_free": op(0, 0, 2, 3, 3000) + op(8, 1, 2) + op(1, 1, 3, 1, 40) + op(9, 0, 3),
    "calloc_realloc": op(4, 0, 4, 3, 5000, extra=3) + op(5, 1, 4, 3, 20000) + op(5, 0, 4, 1, 10),
    "aligned": op(6, 0, 5, 2, 700, extra=4) + op(7, 1, 6, 3, 9000, extra=2) + op(11, 0) + op(15, 1),
    "large": op(0, 0, 7, 6, 40000) + op(5, 1, 7, 7, 30000) + op(12, 0, 7) + op(8, 1, 7),
    "restart": op(0, 1, 8, 3, 1234) + op(0, 1, 9, 1, 5) + op(13, 1) + op(8, 0, 8) + op(0, 1, 10, 0, 0) + op(13, 0),
    "many_small": b"".join(op(i % 4, i % 2, i % 64, i % 3, 17 * i) for i in range(200)),
}

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
os.makedirs(out, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
