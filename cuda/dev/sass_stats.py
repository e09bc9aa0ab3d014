#!/usr/bin/env python3
"""Static instruction counts of the kernels in a CUDA object file, from its SASS.

    python3 cuda/dev/sass_stats.py OBJECT [--kernel SUBSTRING] [--arch sm_90] [--cuobjdump PATH]

For each kernel (its mangled name containing SUBSTRING): the instructions,
the classes that bound our kernels (shared loads: LDS and LDSM, i.e.
ldmatrix; tensor-core HMMA; global loads and stores; MUFU, the special
function unit; FFMA; barriers; local-memory spills LDL/STL), then each loop
(a backward branch) with its body's size and the same classes inside it.
What a kernel costs per output follows from these and the loop trip counts,
which the source says; docs/performance.md uses them to predict before a
GPU can measure. A count is not a time: ncu on the GPU says which of these
actually binds.

cuobjdump comes with the CUDA toolkit; where the toolkit lacks it (this
project's build machine has nvcc and ptxas only), PyPI has it:
    pip download --no-deps -d /tmp/cuobjdump nvidia-cuda-cuobjdump
    python3 -m zipfile -e /tmp/cuobjdump/*.whl /tmp/cuobjdump/x
and pass --cuobjdump /tmp/cuobjdump/x/nvidia/cu13/bin/cuobjdump (chmod +x).
The object: e.g. build-cuda/cuda/CMakeFiles/sagalux_cuda.dir/src/dw_pairs.cu.o,
built with -DCMAKE_CUDA_ARCHITECTURES=90.
"""
import argparse
import re
import shutil
import subprocess
import sys

CLASSES = ["LDSM", "LDS", "STS", "HMMA", "LDG", "STG", "MUFU", "FFMA", "BAR", "LDL", "STL"]


def opcode(ins):
    """The opcode without its predicate and modifiers: '@P0 LDG.E.U16 R1, ...' -> 'LDG'."""
    words = ins.split()
    op = words[1] if words[0].startswith("@") and len(words) > 1 else words[0]
    return op.split(".")[0]


def kernels(sass, arch):
    """{mangled name: [(address, instruction)]} for the ELF section of arch."""
    out, name, in_arch = {}, None, False
    for line in sass.splitlines():
        m = re.match(r"\s*arch = (\S+)", line)
        if m:
            in_arch = m.group(1) == arch
            continue
        if "Fatbin ptx code" in line:
            in_arch = False
        m = re.match(r"\s*Function : (\S+)", line)
        if m:
            name = m.group(1) if in_arch else None
            if name:
                out[name] = []
            continue
        m = re.match(r"\s+/\*([0-9a-f]{4,})\*/\s+(.*?)\s*;", line)
        if m and name:
            out[name].append((int(m.group(1), 16), m.group(2)))
    return out


def counts(body):
    c = {k: 0 for k in CLASSES}
    for _, ins in body:
        op = opcode(ins)
        if op in c:
            c[op] += 1
    return " ".join(f"{k} {v}" for k, v in c.items() if v)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("object")
    ap.add_argument("--kernel", default="")
    ap.add_argument("--arch", default="sm_90")
    ap.add_argument("--cuobjdump", default=shutil.which("cuobjdump") or "cuobjdump")
    a = ap.parse_args()
    try:
        sass = subprocess.run([a.cuobjdump, "-sass", a.object], check=True, capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        sys.exit(f"sass_stats: cannot run {a.cuobjdump} -sass {a.object}: {e} (see --help for where to get cuobjdump)")
    found = {k: v for k, v in kernels(sass, a.arch).items() if a.kernel in k}
    if not found:
        sys.exit(f"sass_stats: no {a.arch} kernel matching '{a.kernel}' in {a.object}")
    demangle = shutil.which("c++filt")
    for name, body in sorted(found.items()):
        shown = name
        if demangle:
            shown = subprocess.run([demangle, name], capture_output=True, text=True).stdout.strip() or name
        print(f"{shown}\n  {len(body)} instructions: {counts(body)}")
        for addr, ins in body:
            m = re.search(r"BRA (?:\S+, )?0x([0-9a-f]+)", ins)
            if m and int(m.group(1), 16) < addr:
                start = int(m.group(1), 16)
                loop = [(x, i) for x, i in body if start <= x <= addr]
                print(f"  loop {start:#x}..{addr:#x}: {len(loop)} instructions: {counts(loop)}")


if __name__ == "__main__":
    main()
