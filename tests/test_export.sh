#!/usr/bin/env bash
# test_export.sh - scripts/export_block.py end to end (issue #9).
#
# Builds synthetic VMamba checkpoints with torch.save in VMamba's key layout
# (blocks made by scripts/gen_golden.py's make_weights, surrounded by stem,
# downsample and classifier keys that must be ignored):
#   ckpt_v0.pth   {"model": state_dict, "epoch", "config": a yacs-like object
#                 whose module is not importable at export time}; current keys,
#                 v0 blocks layers.0.blocks.{0,1} (C=16), layers.1.blocks.{0,1}
#                 (C=32), fp32
#   ckpt_v2.pth   {"model": state_dict}; current keys, v05_noz blocks
#                 layers.0.blocks.0 (C=16, ratio 1), layers.1.blocks.0 (C=24,
#                 ratio 2), bf16
#   ckpt_old.pth  a plain state_dict with the old v0 keys (ln_1.,
#                 self_attention.; top-level norm.* is the classifier's), fp16
# exports blocks, runs each export with `vssbench run --prefix` and compares
# with the float64 truth of gen_golden.block_forward on the checkpoint's own
# weights: max|y - y64| / max|y64 - x| must be < 1e-5.  Then the error cases:
# one line on stderr, non-zero exit, no output file (and an existing one
# left untouched).
#
#   bash tests/test_export.sh        (from anywhere; needs build/vssbench)
# Environment: PYTHON (default /usr/bin/python3), VSSBENCH (default
# build/vssbench).  Last line: "N passed, N failed"; exit 1 on any failure.
set -u
cd "$(dirname "$0")/.." || exit 1
ROOT=$PWD
PY=${PYTHON:-/usr/bin/python3}
VSSBENCH=${VSSBENCH:-$ROOT/build/vssbench}
EXPORT="$PY $ROOT/scripts/export_block.py"
T=$(mktemp -d "${TMPDIR:-/tmp}/test_export.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
pass=0
fail=0

ok() { pass=$((pass + 1)); echo "ok    $1"; }
bad() { fail=$((fail + 1)); echo "FAIL  $1"; [ -n "${2:-}" ] && sed 's/^/      /' <<<"$2"; }

# check NAME COMMAND...: passes when the command exits 0
check() {
  local name=$1 out
  shift
  if out=$("$@" 2>&1); then ok "$name"; else bad "$name" "$out"; fi
}

# helper.py: builds the checkpoints and computes the truth (gen_golden).
cat >"$T/helper.py" <<'EOF'
import json, math, os, sys
sys.path.insert(0, os.path.join(os.environ["ROOT"], "scripts"))
import torch
import gen_golden as gg

T = os.environ["T"]
sys.path.insert(0, os.path.join(T, "mk"))  # fakeyacs, for torch.load of ckpt_v0
B, H, W = 1, 5, 6
# (checkpoint, prefix) -> (form, C, ssm_ratio, seed, stored dtype)
BLOCKS = {
    "ckpt_v0.pth": [("layers.0.blocks.0.", "v0", 16, 2.0, 11), ("layers.0.blocks.1.", "v0", 16, 2.0, 12),
                    ("layers.1.blocks.0.", "v0", 32, 2.0, 13), ("layers.1.blocks.1.", "v0", 32, 2.0, 14)],
    "ckpt_v2.pth": [("layers.0.blocks.0.", "v05_noz", 16, 1.0, 21),
                    ("layers.1.blocks.0.", "v05_noz", 24, 2.0, 22)],
    "ckpt_old.pth": [("layers.0.blocks.0.", "v0", 16, 2.0, 31), ("layers.0.blocks.1.", "v0", 16, 2.0, 32)],
}
DTYPE = {"ckpt_v0.pth": "F32", "ckpt_v2.pth": "BF16", "ckpt_old.pth": "F16"}


def rnd(*shape):
    return torch.randn(*shape)


def make():
    torch.manual_seed(0)
    for ck, blocks in BLOCKS.items():
        old = ck == "ckpt_old.pth"
        sd = {}
        if old:
            sd["patch_embed.proj.weight"] = rnd(16, 3, 4, 4)
            sd["patch_embed.proj.bias"] = rnd(16)
            sd["patch_embed.norm.weight"] = rnd(16)
            sd["patch_embed.norm.bias"] = rnd(16)
        else:
            sd["patch_embed.0.weight"] = rnd(16, 3, 4, 4)
            sd["patch_embed.0.bias"] = rnd(16)
            sd["patch_embed.2.weight"] = rnd(16)
            sd["patch_embed.2.bias"] = rnd(16)
        for i, (pfx, form, C, ratio, seed) in enumerate(blocks):
            cfg = gg.make_cfg(form, C, ratio)
            w = gg.make_weights(cfg, seed, DTYPE[ck])
            for k, v in w.items():
                sd[pfx + (gg.old_key(k) if old else k)] = v
            if pfx.endswith("blocks.0.") and pfx.startswith("layers.0."):
                sd["layers.0.downsample.norm.weight"] = rnd(4 * C)
                sd["layers.0.downsample.reduction.weight"] = rnd(2 * C, 4 * C)
        if old:  # the old generation's classifier norm sits at top level
            sd["norm.weight"], sd["norm.bias"] = rnd(32), rnd(32)
            sd["head.weight"], sd["head.bias"] = rnd(10, 32), rnd(10)
            obj = sd
        else:
            sd["classifier.norm.weight"], sd["classifier.norm.bias"] = rnd(32), rnd(32)
            sd["classifier.head.weight"], sd["classifier.head.bias"] = rnd(10, 32), rnd(10)
            obj = {"model": sd, "epoch": 7, "max_accuracy": 12.5}
            if ck == "ckpt_v0.pth":
                sys.path.insert(0, os.path.join(T, "mk"))
                import fakeyacs
                cfg = fakeyacs.CfgNode()
                cfg["MODEL"] = {"TYPE": "vssm"}
                obj["config"] = cfg
        torch.save(obj, os.path.join(T, ck))
    # one with a key the C block does not compute, one with no block at all
    torch.save({"model": {"layers.0.blocks.0." + k: v for k, v in
                          list(gg.make_weights(gg.make_cfg("v0", 16), 41).items())
                          + [("op.x_proj_bias", torch.zeros(4, 33))]}},
               os.path.join(T, "ckpt_extra.pth"))
    torch.save({"conv1.weight": rnd(8, 3, 3, 3), "fc.weight": rnd(10, 8)},
               os.path.join(T, "ckpt_resnet.pth"))
    # a pickle that would run a command if unpickled naively
    class Evil:
        def __reduce__(self):
            return (os.system, ("touch " + os.path.join(T, "PWNED"),))
    torch.save({"model": {"layers.0.blocks.0." + k: v for k, v in
                          gg.make_weights(gg.make_cfg("v0", 16), 42).items()}, "x": Evil()},
               os.path.join(T, "ckpt_evil.pth"))
    for C in (16, 24, 32):  # inputs: small |x| so the fp32 rounding of
        g = torch.Generator().manual_seed(100 + C)  # x + branch stays far below 1e-5
        x = 0.1 * torch.randn((B, H, W, C), generator=g)
        gg.write_safetensors(os.path.join(T, "x%d.safetensors" % C), {"x": x}, {})


def truth(ck, pfx):
    """(x, y64): the float64 block on the checkpoint's own weights."""
    form, C, ratio, seed = next(b[1:5] for b in BLOCKS[ck] if b[0] == pfx)
    obj = torch.load(os.path.join(T, ck), map_location="cpu")
    sd = obj.get("model", obj)
    w = {}
    for k, v in sd.items():
        if k.startswith(pfx):
            rest = k[len(pfx):]
            rest = rest.replace("ln_1.", "norm.", 1) if rest.startswith("ln_1.") else rest
            rest = ("op." + rest[len("self_attention."):]) if rest.startswith("self_attention.") else rest
            w[rest] = v
    x, _ = gg.read_safetensors(os.path.join(T, "x%d.safetensors" % C))
    x = x["x"]
    return x, gg.block_forward(w, x, gg.make_cfg(form, C, ratio), torch.float64)


def compare(ck, pfx, yfile):
    x, y64 = truth(ck, pfx)
    y, _ = gg.read_safetensors(yfile)
    y = y["y"].to(torch.float64)
    if y.shape != y64.shape:
        print("shape %s, expected %s" % (list(y.shape), list(y64.shape)))
        return 1
    rel = float((y - y64).abs().max() / (y64 - x.to(torch.float64)).abs().max())
    print("max|y - y64| / max|y64 - x| = %.3g (limit 1e-5)" % rel)
    return 0 if rel < 1e-5 else 1


def expect(path, spec):
    """spec: JSON {"keys": [...] (exact set), "dtype": D, "meta": {k: v}}."""
    spec = json.loads(spec)
    t, meta = gg.read_safetensors(path)
    errs = []
    if "keys" in spec and sorted(t) != sorted(spec["keys"]):
        errs.append("keys %s, expected %s" % (sorted(t), sorted(spec["keys"])))
    dts = {str(v.dtype) for v in t.values()}
    if "dtype" in spec and dts != {spec["dtype"]}:
        errs.append("dtypes %s, expected %s" % (dts, spec["dtype"]))
    for k, v in spec.get("meta", {}).items():
        if meta.get(k) != v:
            errs.append("metadata %s = %r, expected %r" % (k, meta.get(k), v))
    print("\n".join(errs) or "ok")
    return 1 if errs else 0


def block_keys(ck, pfx):
    form, C, ratio, seed = next(b[1:5] for b in BLOCKS[ck] if b[0] == pfx)
    keys = gg.make_weights(gg.make_cfg(form, C, ratio), seed).keys()
    return [pfx + (gg.old_key(k) if ck == "ckpt_old.pth" else k) for k in keys]


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "make":
        make()
    elif cmd == "compare":
        sys.exit(compare(*sys.argv[2:5]))
    elif cmd == "expect":
        sys.exit(expect(*sys.argv[2:4]))
    elif cmd == "keys":  # JSON list of a block's original keys
        out = []
        for pfx in sys.argv[3:]:
            out += block_keys(sys.argv[2], pfx)
        print(json.dumps(out))
EOF
mkdir -p "$T/mk" "$T/out"
printf 'class CfgNode(dict):\n    pass\n' >"$T/mk/fakeyacs.py"
export ROOT T
H="$PY $T/helper.py"

if ! "$PY" -c 'import torch' 2>/dev/null; then
  echo "test_export.sh: $PY cannot import torch (Debian python3-torch; scripts/deps.sh golden)" >&2
  echo "0 passed, 1 failed"
  exit 1
fi
if [ ! -x "$VSSBENCH" ]; then
  echo "test_export.sh: $VSSBENCH not built (make all)" >&2
  echo "0 passed, 1 failed"
  exit 1
fi
if ! out=$($H make 2>&1); then
  echo "test_export.sh: cannot build the synthetic checkpoints:" >&2
  echo "$out" >&2
  echo "0 passed, 1 failed"
  exit 1
fi

# export_run NAME CKPT PREFIX C EXPORT_FILE: run the exported block, compare
export_run() {
  local name=$1 ck=$2 pfx=$3 c=$4 file=$5 out
  if ! out=$("$VSSBENCH" run --weights "$file" --prefix "$pfx" --input "$T/x$c.safetensors" \
      --output "$T/y.safetensors" 2>&1); then
    bad "$name: vssbench run" "$out"
    return
  fi
  if out=$($H compare "$ck" "$pfx" "$T/y.safetensors" 2>&1); then
    ok "$name: vs float64 truth: $out"
  else
    bad "$name: vs float64 truth" "$out"
  fi
  rm -f "$T/y.safetensors"
}

# ---- --list
if out=$($EXPORT "$T/ckpt_v0.pth" --list 2>&1) && [ "$(grep -c . <<<"$out")" = 4 ] &&
    grep -q '^layers.1.blocks.1 .*v0 .*C=32 Di=64 N=16 R=2 mlp_hidden=0' <<<"$out"; then
  ok "--list: the 4 blocks and their config"
else
  bad "--list: the 4 blocks and their config" "$out"
fi

# ---- one block: v0 fp32 (checkpoint with a yacs-like config object)
f=$T/out/v0_l1b0.safetensors
check "v0 fp32: export --block layers.1.blocks.0" $EXPORT "$T/ckpt_v0.pth" --block layers.1.blocks.0 -o "$f"
check "v0 fp32: original keys, F32, metadata" $H expect "$f" "{\"keys\": $($H keys ckpt_v0.pth layers.1.blocks.0.),
  \"dtype\": \"torch.float32\", \"meta\": {\"prefix\": \"layers.1.blocks.0.\", \"blocks\": \"layers.1.blocks.0.\",
  \"form\": \"v0\", \"keys\": \"new\", \"C\": \"32\", \"Di\": \"64\", \"N\": \"16\", \"R\": \"2\", \"mlp_hidden\": \"0\",
  \"has_z\": \"1\", \"conv_bias\": \"1\", \"weight_dtype\": \"F32\", \"source\": \"ckpt_v0.pth\", \"source_key\": \"model\",
  \"layers.1.blocks.0.C\": \"32\"}}"
export_run "v0 fp32" ckpt_v0.pth layers.1.blocks.0. 32 "$f"

# ---- one block: v05_noz bf16, --block with a trailing dot
f=$T/out/v2_l1b0.safetensors
check "v05_noz bf16: export --block layers.1.blocks.0." $EXPORT "$T/ckpt_v2.pth" --block layers.1.blocks.0. -o "$f"
check "v05_noz bf16: original keys, BF16 kept, metadata" $H expect "$f" "{\"keys\": $($H keys ckpt_v2.pth layers.1.blocks.0.),
  \"dtype\": \"torch.bfloat16\", \"meta\": {\"form\": \"v05_noz\", \"C\": \"24\", \"Di\": \"48\", \"N\": \"1\", \"R\": \"2\",
  \"mlp_hidden\": \"96\", \"has_z\": \"0\", \"conv_bias\": \"0\", \"ssm_ratio\": \"2.0\", \"weight_dtype\": \"BF16\"}}"
export_run "v05_noz bf16" ckpt_v2.pth layers.1.blocks.0. 24 "$f"

# ---- one block: old keys, fp16, plain state_dict (top-level norm.* ignored)
f=$T/out/old_l0b1.safetensors
check "old keys fp16: export --block layers.0.blocks.1" $EXPORT "$T/ckpt_old.pth" --block layers.0.blocks.1 -o "$f"
check "old keys fp16: ln_1./self_attention. kept, F16, metadata" $H expect "$f" "{\"keys\": $($H keys ckpt_old.pth layers.0.blocks.1.),
  \"dtype\": \"torch.float16\", \"meta\": {\"keys\": \"old\", \"form\": \"v0\", \"C\": \"16\", \"source_key\": \"\",
  \"weight_dtype\": \"F16\"}}"
export_run "old keys fp16" ckpt_old.pth layers.0.blocks.1. 16 "$f"

# ---- --all, one file
f=$T/out/all_v0.safetensors
check "--all: export" $EXPORT "$T/ckpt_v0.pth" --all -o "$f"
check "--all: every block's keys, per-block metadata" $H expect "$f" "{\"keys\": $($H keys ckpt_v0.pth \
  layers.0.blocks.0. layers.0.blocks.1. layers.1.blocks.0. layers.1.blocks.1.), \"meta\": {\"blocks\":
  \"layers.0.blocks.0.,layers.0.blocks.1.,layers.1.blocks.0.,layers.1.blocks.1.\", \"layers.0.blocks.1.C\": \"16\",
  \"layers.1.blocks.1.Di\": \"64\", \"layers.0.blocks.0.form\": \"v0\"}}"
export_run "--all: layers.0.blocks.1" ckpt_v0.pth layers.0.blocks.1. 16 "$f"
export_run "--all: layers.1.blocks.1" ckpt_v0.pth layers.1.blocks.1. 32 "$f"

# ---- --all --split
d=$T/out/split
check "--all --split: export" $EXPORT "$T/ckpt_v2.pth" --all --split -o "$d"
if [ "$(cd "$d" 2>/dev/null && ls -A | tr '\n' ' ')" = "layers.0.blocks.0.safetensors layers.1.blocks.0.safetensors " ]; then
  ok "--all --split: one file per block, nothing else"
else
  bad "--all --split: one file per block, nothing else" "$(ls -A "$d" 2>&1)"
fi
export_run "--all --split: layers.0.blocks.0 (ratio 1)" ckpt_v2.pth layers.0.blocks.0. 16 "$d/layers.0.blocks.0.safetensors"

# ---- error cases: exit 1, one clear line, no output, existing output untouched
# fails NAME PATTERN OUT ARGS...: export fails with PATTERN on stderr
fails() {
  local name=$1 pat=$2 out=$3 err rc
  shift 3
  err=$($EXPORT "$@" -o "$out" 2>&1 >/dev/null)
  rc=$?
  local left
  left=$(ls -A "$T/out" | grep -v -e '\.safetensors$' -e '^split$' -e '^keep$')
  if [ "$rc" = 1 ] && grep -q -- "$pat" <<<"$err" && [ "$(grep -c . <<<"$err")" = 1 ] &&
      [ ! -e "$out" ] && [ -z "$left" ]; then
    ok "$name"
  else
    bad "$name" "exit $rc; stderr: $err; output exists: $([ -e "$out" ] && echo yes || echo no); left: $left"
  fi
}
o=$T/out/err.safetensors
fails "missing checkpoint" "no such file" "$o" "$T/nope.pth" --block layers.0.blocks.0
fails "no such block (lists the blocks)" \
  "no block 'layers.3.blocks.0'; blocks: layers.0.blocks.0, layers.0.blocks.1, layers.1.blocks.0, layers.1.blocks.1" \
  "$o" "$T/ckpt_v0.pth" --block layers.3.blocks.0
fails "unknown key layout: no blocks" "unknown key layout: no VSS blocks" "$o" "$T/ckpt_resnet.pth" --all
fails "unknown key layout: unsupported key" "unknown key layout: unsupported key layers.0.blocks.0.op.x_proj_bias" \
  "$o" "$T/ckpt_extra.pth" --all
head -c 3000 "$T/ckpt_v0.pth" >"$T/trunc.pth"
fails "truncated checkpoint" "truncated or corrupt" "$o" "$T/trunc.pth" --all
head -c 4096 /dev/urandom >"$T/garbage.pth"
fails "corrupt checkpoint" "truncated or corrupt" "$o" "$T/garbage.pth" --all
fails "--split: nothing written on failure" "no such file" "$T/out/split2" "$T/nope.pth" --all --split

err=$($EXPORT "$T/ckpt_evil.pth" --all -o "$T/out/evil.safetensors" 2>&1)
if [ $? = 0 ] && [ ! -e "$T/PWNED" ]; then ok "a pickle's code does not run (restricted unpickler)"
else bad "a pickle's code does not run (restricted unpickler)" "$err"; fi

echo keep >"$T/out/keep"
err=$($EXPORT "$T/ckpt_v0.pth" --block layers.7.blocks.0 -o "$T/out/keep" 2>&1)
if [ "$(cat "$T/out/keep")" = keep ]; then ok "failure leaves an existing output untouched"
else bad "failure leaves an existing output untouched" "$err"; fi

err=$($EXPORT 2>&1); rc=$?
if [ "$rc" = 2 ]; then ok "usage error: exit 2"; else bad "usage error: exit 2" "exit $rc: $err"; fi
err=$($EXPORT "$T/ckpt_v0.pth" --block layers.0.blocks.0 2>&1); rc=$?
if [ "$rc" = 2 ] && grep -q -- "--out is required" <<<"$err"; then ok "usage error: -o required"
else bad "usage error: -o required" "exit $rc: $err"; fi
if $EXPORT --help | grep -q "weights_only"; then ok "--help explains the pickle risk"
else bad "--help explains the pickle risk"; fi

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
