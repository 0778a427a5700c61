#!/usr/bin/python3
"""export_block.py - VSS blocks of a VMamba checkpoint as safetensors files.

Reads a VMamba checkpoint (a torch.save'd dict holding the state_dict under
`model`, or a plain state_dict) and writes one block, or every block, as a
safetensors file that `vssbench run --weights FILE --prefix P` loads: the
block's tensors under their ORIGINAL keys (full-model prefix such as
`layers.1.blocks.0.`, either key generation: old v0 `ln_1.*` /
`self_attention.*`, or current `norm.*`, `op.*`, `norm2.*`, `mlp.*`) and in
their stored dtype (F32, F16, BF16 or F64; the C loader converts), plus
__metadata__ describing where it came from and the inferred configuration.

    /usr/bin/python3 scripts/export_block.py CKPT --list
    /usr/bin/python3 scripts/export_block.py CKPT --block layers.1.blocks.0 -o b.safetensors
    /usr/bin/python3 scripts/export_block.py CKPT --all -o blocks.safetensors
    /usr/bin/python3 scripts/export_block.py CKPT --all --split -o blocks/

Stem, downsample, classifier and any other non-block keys are ignored.  A
block holding a key this tool does not know (a VMamba variant the C block
does not compute) is refused rather than exported incompletely.

__metadata__ (all strings): `generator`, `torch_version`, `source` (the
checkpoint's file name), `source_sha256`, `source_key` (the dict key the
state_dict came from, "" for a plain state_dict), `blocks` (the exported
prefixes, comma separated), and for every block, keys `<prefix><field>`
(e.g. `layers.1.blocks.0.C`) with field one of: `form` (`v0`, `v05_noz`,
or `custom` for other combinations of z gate and MLP), `keys` (`new` |
`old`), `C`, `Di`, `N`, `R`, `mlp_hidden` (0: no MLP), `has_z`,
`conv_bias` (0|1), `ssm_ratio` (Di/C), `weight_dtype` (`F32`, `F16`, `BF16`,
`F64` or `mixed`).  A one-block file also carries `prefix` and the unprefixed
fields (`form`, `C`, ...), as the golden files do.

Exit status: 0 success, 1 an error (one line on stderr: missing or
unreadable checkpoint, no such block, unknown key layout), 2 a usage error.
Output files appear only on success (temporary name, then rename).
"""

import argparse
import hashlib
import inspect
import os
import pickle
import sys
import types

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_golden import write_safetensors  # noqa: E402  (one safetensors writer)

PROG = "export_block.py"
GENERATOR = "scripts/export_block.py"

# The tensors of a block (spec 2.3 / 3.2), current names: name -> required.
BLOCK_KEYS = {
    "norm.weight": True, "norm.bias": True,
    "op.in_proj.weight": True,
    "op.conv2d.weight": True, "op.conv2d.bias": False,
    "op.x_proj_weight": True,
    "op.dt_projs_weight": True, "op.dt_projs_bias": True,
    "op.A_logs": True, "op.Ds": True,
    "op.out_norm.weight": True, "op.out_norm.bias": True,
    "op.out_proj.weight": True,
    "norm2.weight": False, "norm2.bias": False,
    "mlp.fc1.weight": False, "mlp.fc1.bias": False,
    "mlp.fc2.weight": False, "mlp.fc2.bias": False,
}
MLP_KEYS = [k for k in BLOCK_KEYS if k.startswith(("norm2.", "mlp."))]
# Old v0 generation: namespace renames (no MLP in that generation).
OLD_SPACES = {"ln_1.": "norm.", "self_attention.": "op."}
NEW_SPACES = ("norm.", "op.", "norm2.", "mlp.")
ST_DTYPES = {torch.float32: "F32", torch.float16: "F16",
             torch.bfloat16: "BF16", torch.float64: "F64"}


class ExportError(Exception):
    """One-line error: printed as `export_block.py: error: <msg>`, exit 1."""


# --------------------------------------------------------------------------
# loading the checkpoint

# Globals a checkpoint's pickle may import: tensor rebuilding and plain
# containers (what torch's weights_only allows).  Anything else (a training
# config object such as yacs' CfgNode, numpy scalars) becomes an inert stub:
# its module is never imported and no code of it runs.
_ALLOWED = {
    ("collections", "OrderedDict"),
    ("torch._utils", "_rebuild_tensor"), ("torch._utils", "_rebuild_tensor_v2"),
    ("torch._utils", "_rebuild_parameter"),
    ("torch._utils", "_rebuild_parameter_with_state"),
    ("torch", "Size"), ("torch", "device"),
    ("builtins", "set"), ("builtins", "frozenset"), ("builtins", "slice"),
}


class _Stub(dict):
    """Stand-in for a class the checkpoint names but we do not import."""

    def __init__(self, *args, **kwargs):  # pylint: disable=super-init-not-called
        dict.__init__(self)

    def __setstate__(self, state):
        dict.__setitem__(self, "__state__", state)

    def append(self, item):
        dict.setdefault(self, "__items__", []).append(item)

    def extend(self, items):
        dict.setdefault(self, "__items__", []).extend(items)


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) in _ALLOWED:
            return super().find_class(module, name)
        if module == "torch" and isinstance(getattr(torch, name, None), torch.dtype):
            return getattr(torch, name)
        return type(name, (_Stub,), {"__module__": "stub." + module})


# torch.load unpickles through the module-level name `pickle` of
# torch.serialization (torch 1.13 even ignores a pickle_module argument when
# weights_only is False), so the restricted unpickler goes in there, for the
# duration of one load.
_restricted_pickle = types.ModuleType("pickle")
_restricted_pickle.__dict__.update(pickle.__dict__)
_restricted_pickle.Unpickler = _RestrictedUnpickler
_restricted_pickle.load = lambda f, **kw: _RestrictedUnpickler(f, **kw).load()


def _restricted_load(path, has_wo):
    import torch.serialization as ser
    saved = ser.pickle
    ser.pickle = _restricted_pickle
    try:
        kw = {"weights_only": False} if has_wo else {}
        return torch.load(path, map_location="cpu", **kw)
    finally:
        ser.pickle = saved


def _short(exc):
    msg = str(exc).strip().splitlines()
    return "%s: %s" % (type(exc).__name__, msg[0] if msg else "")


def load_checkpoint(path):
    """The checkpoint object, loaded on the CPU without running its code:
    torch's weights_only loader where this torch has it, else (or when the
    file holds non-tensor objects weights_only refuses, such as a yacs
    config) the restricted unpickler above."""
    if not os.path.exists(path):
        raise ExportError("%s: no such file" % path)
    if os.path.isdir(path):
        raise ExportError("%s: is a directory, not a checkpoint" % path)
    has_wo = "weights_only" in inspect.signature(torch.load).parameters
    first = None
    if has_wo:
        try:
            return torch.load(path, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError as e:  # a non-allowlisted global
            first = e
        except Exception as e:  # noqa: BLE001 - truncated zip, bad magic, ...
            raise ExportError("%s: cannot read the checkpoint (truncated or corrupt?): %s"
                              % (path, _short(e)))
    try:
        return _restricted_load(path, has_wo)
    except Exception as e:  # noqa: BLE001
        raise ExportError("%s: cannot read the checkpoint (truncated or corrupt?): %s"
                          % (path, _short(first or e)))


def state_dict_of(ckpt, path, key=None):
    """(state_dict, source_key): ckpt[key] (default: `model`, else
    `state_dict`, when present), or ckpt itself."""
    if not isinstance(ckpt, dict):
        raise ExportError("%s: unknown key layout: the checkpoint is a %s, not a dict"
                          % (path, type(ckpt).__name__))
    if key is None:
        key = next((k for k in ("model", "state_dict") if isinstance(ckpt.get(k), dict)), "")
    if key:
        if not isinstance(ckpt.get(key), dict):
            raise ExportError("%s: no state_dict under key '%s' (top-level keys: %s)"
                              % (path, key, ", ".join(sorted(map(str, ckpt)))[:400]))
        sd = ckpt[key]
    else:
        sd = ckpt
    return {k: v for k, v in sd.items() if isinstance(k, str) and torch.is_tensor(v)}, key


# --------------------------------------------------------------------------
# blocks: discovery, key generation, configuration

def find_blocks(sd):
    """Prefixes (with trailing dot, "" for a bare block) of every block, in
    the model's order (layers.i.blocks.j by number)."""
    pfx = set()
    for k in sd:
        for tail in ("op.A_logs", "self_attention.A_logs"):
            if k.endswith(tail) and (len(k) == len(tail) or k[-len(tail) - 1] == "."):
                pfx.add(k[:-len(tail)])

    def order(p):
        return [(0, int(s), "") if s.isdigit() else (1, 0, s) for s in p.split(".")]
    return sorted(pfx, key=order)


def block_name(prefix):
    return prefix[:-1] if prefix.endswith(".") else (prefix or "(root)")


def block_tensors(sd, prefix, path):
    """(generation, {current name: tensor}, {current name: original key})."""
    own = {k[len(prefix):]: k for k in sd if k.startswith(prefix)}
    gens = set()
    cur, orig, unknown = {}, {}, []
    for rest, key in own.items():
        name, gen = None, None
        for old, new in OLD_SPACES.items():
            if rest.startswith(old):
                name, gen = new + rest[len(old):], "old"
        if name is None and rest.startswith(NEW_SPACES):
            name, gen = rest, "new"
        if name is None:
            if prefix:
                unknown.append(key)
            continue  # a bare block file: other top-level keys are not its own
        if name not in BLOCK_KEYS:
            unknown.append(key)
            continue
        gens.add(gen)
        cur[name], orig[name] = sd[key], key
    where = "%s: block %s" % (path, block_name(prefix))
    if unknown:
        raise ExportError("%s: unknown key layout: unsupported key%s %s (the C block "
                          "computes v0 and v05_noz blocks only)" % (
                              where, "s" if len(unknown) > 1 else "",
                              ", ".join(sorted(unknown)[:6])))
    if len(gens) > 1:
        raise ExportError("%s: unknown key layout: mixes old (ln_1., self_attention.) "
                          "and current (norm., op.) key names" % where)
    missing = [prefix + k for k, req in BLOCK_KEYS.items() if req and k not in cur]
    if gens == {"old"}:
        missing = [m.replace(prefix + "norm.", prefix + "ln_1.", 1)
                   .replace(prefix + "op.", prefix + "self_attention.", 1) for m in missing]
    if missing:
        raise ExportError("%s: unknown key layout: missing %s" % (where, ", ".join(missing)))
    return gens.pop(), cur, orig


def infer_config(t, gen, where):
    """The block's configuration from its tensor shapes (spec 2.3, 3.2)."""
    def shape(k):
        return tuple(t[k].shape) if k in t else None

    def need(k, want):
        if shape(k) != tuple(want):
            raise ExportError("%s: unknown key layout: %s has shape %s, expected %s" % (
                where, k, list(shape(k)), list(want)))

    if len(shape("norm.weight")) != 1 or len(shape("op.out_norm.weight")) != 1:
        raise ExportError("%s: unknown key layout: norm.weight / op.out_norm.weight "
                          "must be 1-D" % where)
    C, Di = shape("norm.weight")[0], shape("op.out_norm.weight")[0]
    rows = shape("op.in_proj.weight")
    if rows not in ((2 * Di, C), (Di, C)):
        raise ExportError("%s: unknown key layout: op.in_proj.weight has shape %s, "
                          "expected [%d, %d] (v0, z gate) or [%d, %d]" % (
                              where, list(rows), 2 * Di, C, Di, C))
    has_z = rows[0] == 2 * Di
    a = shape("op.A_logs")
    if len(a) != 2 or a[0] != 4 * Di:
        raise ExportError("%s: unknown key layout: op.A_logs has shape %s, expected "
                          "[%d, N]" % (where, list(a), 4 * Di))
    N = a[1]
    d = shape("op.dt_projs_weight")
    if len(d) != 3 or d[:2] != (4, Di):
        raise ExportError("%s: unknown key layout: op.dt_projs_weight has shape %s, "
                          "expected [4, %d, R]" % (where, list(d), Di))
    R = d[2]
    need("norm.bias", (C,))
    need("op.conv2d.weight", (Di, 1, 3, 3))
    conv_bias = "op.conv2d.bias" in t
    if conv_bias:
        need("op.conv2d.bias", (Di,))
    need("op.x_proj_weight", (4, R + 2 * N, Di))
    need("op.dt_projs_bias", (4, Di))
    need("op.Ds", (4 * Di,))
    need("op.out_norm.bias", (Di,))
    need("op.out_proj.weight", (C, Di))
    present = [k for k in MLP_KEYS if k in t]
    hidden = 0
    if present:
        if len(present) != len(MLP_KEYS):
            raise ExportError("%s: unknown key layout: incomplete MLP branch (has %s)"
                              % (where, ", ".join(present)))
        hidden = shape("mlp.fc1.weight")[0]
        need("norm2.weight", (C,))
        need("norm2.bias", (C,))
        need("mlp.fc1.weight", (hidden, C))
        need("mlp.fc1.bias", (hidden,))
        need("mlp.fc2.weight", (C, hidden))
        need("mlp.fc2.bias", (C,))
    bad = [k for k, v in t.items() if v.dtype not in ST_DTYPES]
    if bad:
        raise ExportError("%s: %s has dtype %s (F32, F16, BF16 or F64 only)" % (
            where, bad[0], t[bad[0]].dtype))
    dts = {ST_DTYPES[v.dtype] for v in t.values()}
    if has_z and not hidden:
        form = "v0"
    elif not has_z and hidden:
        form = "v05_noz"
    else:
        form = "custom"
    return {
        "form": form, "keys": gen, "C": C, "Di": Di, "N": N, "R": R,
        "mlp_hidden": hidden, "has_z": int(has_z), "conv_bias": int(conv_bias),
        "ssm_ratio": repr(Di / C), "weight_dtype": dts.pop() if len(dts) == 1 else "mixed",
    }


class Block:
    def __init__(self, sd, prefix, path):
        self.prefix = prefix
        self.name = block_name(prefix)
        gen, cur, orig = block_tensors(sd, prefix, path)
        self.cfg = infer_config(cur, gen, "%s: block %s" % (path, self.name))
        self.tensors = {orig[k]: v for k, v in cur.items()}  # original keys


# --------------------------------------------------------------------------
# writing

def sha256_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def file_contents(blocks, source_meta):
    tensors, meta = {}, dict(source_meta)
    meta["blocks"] = ",".join(b.prefix for b in blocks)
    for b in blocks:
        tensors.update(b.tensors)
        for k, v in b.cfg.items():
            meta[b.prefix + k] = v
    if len(blocks) == 1:
        meta["prefix"] = blocks[0].prefix
        meta.update(blocks[0].cfg)
    return tensors, meta


def write_all(outputs):
    """outputs: [(path, tensors, meta)].  Every file is written under a
    temporary name first and renamed only when all were written."""
    tmps = []
    try:
        for path, tensors, meta in outputs:
            d, base = os.path.split(path)
            tmp = os.path.join(d, ".%s.%d.partial" % (base, os.getpid()))
            tmps.append(tmp)
            write_safetensors(tmp, tensors, meta)
        for (path, _, _), tmp in zip(outputs, tmps):
            os.replace(tmp, path)
    except OSError as e:
        raise ExportError("%s: cannot write: %s" % (e.filename or "output", e.strerror or e))
    finally:
        for tmp in tmps:
            for p in (tmp, tmp + ".tmp"):
                if os.path.exists(p):
                    os.unlink(p)


# --------------------------------------------------------------------------
# command line

DESCRIPTION = """\
Export VSS blocks of a VMamba checkpoint (a torch.save'd dict with key
`model`, or a plain state_dict; old `ln_1.`/`self_attention.` or current
`norm.`/`op.`/`norm2.`/`mlp.` keys; fp32, fp16 or bf16 tensors) to
safetensors, keeping the original keys and dtypes, with metadata for
vssbench: source checkpoint, block prefix, inferred form, C, Di, N, R,
mlp_hidden and key generation.  Errors: one line on stderr, exit 1, and no
output file."""

EPILOG = """\
security: a checkpoint is a pickle, and unpickling can run code.  This tool
loads with torch's weights_only=True where this torch has it (1.13 does);
when the file holds other objects (VMamba's training checkpoints carry a
yacs config) it falls back to a restricted unpickler that imports nothing
outside torch's tensor-rebuild functions and plain containers, and turns
every other object into an inert stub.  Older torch without weights_only
gets the restricted unpickler directly.  Still: export only checkpoints
from a source you trust.

Run the exported block with:
  build/vssbench run --weights OUT --prefix layers.1.blocks.0. --input X --output Y
"""


def parse_args(argv):
    ap = argparse.ArgumentParser(
        prog=PROG, formatter_class=argparse.RawDescriptionHelpFormatter,
        description=DESCRIPTION,
        epilog=EPILOG)
    ap.add_argument("checkpoint", help="the .pth checkpoint")
    what = ap.add_mutually_exclusive_group(required=True)
    what.add_argument("--block", metavar="NAME",
                      help="one block, e.g. layers.1.blocks.0 (a trailing dot is fine)")
    what.add_argument("--all", action="store_true", help="every block")
    what.add_argument("--list", action="store_true",
                      help="list the blocks with their inferred configuration and exit")
    ap.add_argument("--split", action="store_true",
                    help="with --all: one file per block, OUT is a folder "
                         "(OUT/<block>.safetensors)")
    ap.add_argument("-o", "--out", metavar="OUT",
                    help="output file (folder with --split); required unless --list")
    ap.add_argument("--key", metavar="KEY",
                    help="the checkpoint entry holding the state_dict (default: "
                         "`model`, else `state_dict`, else the checkpoint itself; "
                         "e.g. model_ema)")
    args = ap.parse_args(argv)
    if args.split and not args.all:
        ap.error("--split needs --all")
    if not args.list and not args.out:
        ap.error("-o/--out is required (unless --list)")
    return args


def run(args):
    torch.set_num_threads(1)
    path = args.checkpoint
    sd, key = state_dict_of(load_checkpoint(path), path, args.key)
    prefixes = find_blocks(sd)
    if not prefixes:
        sample = ", ".join(sorted(sd)[:5]) or "none"
        raise ExportError("%s: unknown key layout: no VSS blocks (no "
                          "'...op.A_logs' or '...self_attention.A_logs' tensor; "
                          "first tensor keys: %s)" % (path, sample))
    if args.block is not None:
        want = args.block if args.block.endswith(".") or not args.block else args.block + "."
        if want not in prefixes:
            raise ExportError("%s: no block '%s'; blocks: %s" % (
                path, block_name(want), ", ".join(block_name(p) for p in prefixes)))
        prefixes = [want]
    blocks = [Block(sd, p, path) for p in prefixes]
    if args.list:
        for b in blocks:
            c = b.cfg
            print("%-22s %-7s keys=%s C=%d Di=%d N=%d R=%d mlp_hidden=%d conv_bias=%d %s" % (
                b.name, c["form"], c["keys"], c["C"], c["Di"], c["N"], c["R"],
                c["mlp_hidden"], c["conv_bias"], c["weight_dtype"]))
        return 0
    out = args.out
    if os.path.exists(out) and os.path.exists(path) and os.path.samefile(out, path):
        raise ExportError("%s: is the checkpoint itself" % out)
    source = {"generator": GENERATOR, "torch_version": torch.__version__,
              "source": os.path.basename(path), "source_sha256": sha256_of(path),
              "source_key": key}
    if args.split:
        if os.path.exists(out) and not os.path.isdir(out):
            raise ExportError("%s: exists and is not a folder (--split writes a folder)" % out)
        try:
            os.makedirs(out, exist_ok=True)
        except OSError as e:
            raise ExportError("%s: cannot create the folder: %s" % (out, e.strerror))
        outputs = [(os.path.join(out, b.name + ".safetensors"),) + file_contents([b], source)
                   for b in blocks]
    else:
        if os.path.isdir(out):
            raise ExportError("%s: is a folder (use --all --split to write one file per "
                              "block)" % out)
        outputs = [(out,) + file_contents(blocks, source)]
    write_all(outputs)
    for p, t, _ in outputs:
        print("%s: %d tensors" % (p, len(t)))
    return 0


def main(argv=None):
    args = parse_args(argv)
    try:
        return run(args)
    except ExportError as e:
        print("%s: error: %s" % (PROG, e), file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
