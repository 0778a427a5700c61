#!/usr/bin/env python3
"""gen_corpus.py - the seed corpus of the safetensors/block-loading fuzzer.

Small valid block files (a few KB each): every dtype (F32, F16, BF16, F64),
both key generations (current norm.*/op.*/mlp.*, old v0 ln_1.*/self_attention.*),
both block forms (v0: z gate, no MLP; v05/v2: no z, MLP), with and without the
conv bias, under a prefix among decoys, plus an input `x` (B,H,W,C) so the
fuzzer runs the forward too.  Pure Python (struct), deterministic.

    python3 tests/fuzz/gen_corpus.py tests/fuzz/corpus
Regression inputs (crashers the fuzzer found) live in the same folder as
regress_*; this script never touches them.
"""
import json
import math
import os
import random
import struct
import sys

PACK = {"F32": "<%df", "F64": "<%dd", "F16": "<%de"}


def pack(dtype, vals):
    if dtype == "BF16":  # round to nearest even on the fp32 bits
        out = bytearray()
        for v in vals:
            b = struct.unpack("<I", struct.pack("<f", v))[0]
            b = (b + 0x7FFF + ((b >> 16) & 1)) >> 16
            out += struct.pack("<H", b & 0xFFFF)
        return bytes(out)
    return struct.pack(PACK[dtype] % len(vals), *vals)


def numel(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def write(path, tensors, meta=None):
    """tensors: list of (name, dtype, shape, values)."""
    header, data = {}, bytearray()
    if meta:
        header["__metadata__"] = meta
    for name, dtype, shape, vals in tensors:
        raw = pack(dtype, vals)
        header[name] = {"dtype": dtype, "shape": list(shape),
                        "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + bytes(data))


def block(rng, C, Di, N, R, hidden, z, conv_bias, old, dtype, pfx=""):
    """The tensors of one block, VMamba's keys."""
    def rnd(shape, scale):
        return [rng.uniform(-scale, scale) for _ in range(numel(shape))]
    norm, op = ("ln_1.", "self_attention.") if old else ("norm.", "op.")
    t = [
        (norm + "weight", [C], [1.0 + rng.uniform(-0.1, 0.1) for _ in range(C)]),
        (norm + "bias", [C], rnd([C], 0.1)),
        (op + "in_proj.weight", [(2 if z else 1) * Di, C], rnd([(2 if z else 1) * Di, C], 0.5)),
        (op + "conv2d.weight", [Di, 1, 3, 3], rnd([Di, 1, 3, 3], 0.3)),
        (op + "x_proj_weight", [4, R + 2 * N, Di], rnd([4, R + 2 * N, Di], 0.3)),
        (op + "dt_projs_weight", [4, Di, R], rnd([4, Di, R], 0.5)),
        (op + "dt_projs_bias", [4, Di], [math.log(math.expm1(rng.uniform(1e-3, 0.1)))
                                         for _ in range(4 * Di)]),
        (op + "A_logs", [4 * Di, N], [math.log(n + 1) for _ in range(4 * Di) for n in range(N)]),
        (op + "Ds", [4 * Di], [1.0] * (4 * Di)),
        (op + "out_norm.weight", [Di], [1.0] * Di),
        (op + "out_norm.bias", [Di], [0.0] * Di),
        (op + "out_proj.weight", [C, Di], rnd([C, Di], 0.3)),
    ]
    if conv_bias:
        t.append((op + "conv2d.bias", [Di], rnd([Di], 0.1)))
    if hidden:
        t += [
            ("norm2.weight", [C], [1.0] * C),
            ("norm2.bias", [C], [0.0] * C),
            ("mlp.fc1.weight", [hidden, C], rnd([hidden, C], 0.4)),
            ("mlp.fc1.bias", [hidden], rnd([hidden], 0.1)),
            ("mlp.fc2.weight", [C, hidden], rnd([C, hidden], 0.4)),
            ("mlp.fc2.bias", [C], rnd([C], 0.1)),
        ]
    return [(pfx + name, dtype, shape, vals) for name, shape, vals in t]


def x_tensor(rng, B, H, W, C, dtype="F32"):
    return ("x", dtype, [B, H, W, C], [rng.gauss(0, 1) for _ in range(B * H * W * C)])


# name, C, Di, N, R, hidden, z, conv_bias, old keys, dtype, (B, H, W)
CASES = [
    ("v0_f32", 4, 8, 2, 1, 0, 1, 1, 0, "F32", (1, 3, 2)),
    ("v0_old_f64", 4, 8, 2, 1, 0, 1, 1, 1, "F64", (1, 2, 3)),
    ("v0_f16", 3, 6, 1, 2, 0, 1, 1, 0, "F16", (1, 2, 2)),
    ("v05_f32", 4, 4, 1, 1, 8, 0, 0, 0, "F32", (2, 2, 2)),
    ("v05_bf16", 5, 10, 2, 1, 6, 0, 0, 0, "BF16", (1, 3, 3)),
    ("v2_f16", 8, 16, 1, 1, 16, 0, 1, 0, "F16", (1, 1, 5)),
    ("v0_old_bf16", 2, 4, 3, 1, 0, 1, 0, 1, "BF16", (1, 4, 1)),
    ("v05_f64", 9, 9, 2, 3, 9, 0, 1, 0, "F64", (1, 2, 4)),
]


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/fuzz/corpus"
    os.makedirs(out, exist_ok=True)
    rng = random.Random(20240601)
    for name, C, Di, N, R, hidden, z, cb, old, dtype, (B, H, W) in CASES:
        t = block(rng, C, Di, N, R, hidden, z, cb, old, dtype)
        t.append(x_tensor(rng, B, H, W, C, dtype if name.endswith("16") else "F32"))
        write(os.path.join(out, "seed_%s.safetensors" % name), t,
              {"case": name, "form": "v0" if z else "v05"})
    # a block under a prefix, among decoys (another block's tensors, stages)
    t = block(rng, 4, 8, 2, 1, 8, 0, 1, 0, "F32", "layers.0.blocks.1.")
    t += [("layers.0.blocks.10.norm.weight", "F32", [4], [1.0] * 4),
          ("stages.norm", "F64", [1, 2, 2, 4], [0.0] * 16),
          x_tensor(rng, 1, 2, 2, 4)]
    write(os.path.join(out, "seed_prefix_f32.safetensors"), t,
          {"prefix": "layers.0.blocks.1."})
    # a post-norm block (VMamba's post_norm, from the file's __metadata__)
    t = block(rng, 4, 4, 1, 1, 8, 0, 0, 0, "F32")
    t.append(x_tensor(rng, 1, 2, 3, 4))
    write(os.path.join(out, "seed_v05_postnorm.safetensors"), t, {"post_norm": "1"})
    # "VSSCFG" inputs: 10 config bytes (C, Di, N, R, MLP?, hidden, z|bias,
    # B, H, W; see synth() in fuzz_load.c), then the bytes of every value
    for name, cfg in (("synth_v0", [15, 31, 15, 0, 0, 0, 3, 0, 4, 6]),
                      ("synth_v05", [7, 16, 0, 1, 1, 31, 0, 1, 2, 8]),
                      ("synth_odd", [2, 10, 4, 2, 1, 4, 2, 2, 8, 0])):
        with open(os.path.join(out, "seed_%s.bin" % name), "wb") as f:
            f.write(b"VSSCFG" + bytes(cfg) + bytes(rng.randrange(256) for _ in range(97)))
    # parser-only seeds: no tensors, metadata only, zero-sized tensors
    write(os.path.join(out, "seed_empty.safetensors"), [])
    write(os.path.join(out, "seed_meta.safetensors"), [], {"k": "v", "prefix": ""})
    write(os.path.join(out, "seed_zero_sized.safetensors"),
          [("a", "F32", [0, 3], []), ("b", "F16", [2], [1.0, -2.0]), ("c", "F64", [], [3.5])])


if __name__ == "__main__":
    main()
