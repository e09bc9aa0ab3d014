#!/usr/bin/env python3
"""Turns a .cu file into C++ for the CUDA emulator (cuda/emu/emu.h).

    python3 cuda/emu/cu2cpp.py IN.cu OUT.cpp

Two rewrites, both checked (a construct it does not know stops it):
  - a launch `kernel<T...><<<grid, block[, bytes[, stream]]>>>(args)` becomes
    `emu::launch(emu::cfg(grid, block, bytes, stream), [&](const auto &...a) { kernel<T...>(a...); })(args)`
    (a generic lambda, so a template kernel's arguments are deduced as in a launch);
  - `extern __shared__ [__align__(N)] T name[];` becomes
    `T *name = reinterpret_cast<T *>(emu::dynamic_smem());`.
Everything else compiles as it is, with emu.h included first. A #line
directive keeps compiler messages pointing at the .cu file.
"""
import re
import sys

SMEM = re.compile(r"extern\s+__shared__\s+(?:__align__\(\d+\)\s+)?([A-Za-z_][\w ]*?)\s+(\w+)\[\];")


def kernel_start(text, at):
    """Where the kernel expression that ends at `at` (just before <<<) starts:
    a name, maybe qualified, maybe with template arguments <...>."""
    i = at
    if text[i - 1] == ">":  # template arguments: walk back to the matching '<'
        depth = 0
        while True:
            i -= 1
            if text[i] == ">":
                depth += 1
            elif text[i] == "<":
                depth -= 1
                if depth == 0:
                    break
    while i > 0 and (text[i - 1].isalnum() or text[i - 1] in "_:"):
        i -= 1
    if i == at:
        raise SystemExit(f"cu2cpp: no kernel name before <<< at offset {at}")
    return i


def rewrite_launches(text):
    out, pos = [], 0
    while True:
        at = text.find("<<<", pos)
        if at < 0:
            out.append(text[pos:])
            return "".join(out)
        start = kernel_start(text, at)
        end = text.find(">>>", at)
        if end < 0 or text[end + 3] != "(":
            raise SystemExit(f"cu2cpp: a launch at offset {at} is not <<<...>>>(...)")
        out.append(text[pos:start])
        out.append(f"emu::launch(emu::cfg({text[at + 3:end]}), [&](const auto &...a) {{ {text[start:at]}(a...); }})")
        pos = end + 3


def main():
    if len(sys.argv) != 3:
        raise SystemExit("usage: cu2cpp.py IN.cu OUT.cpp")
    src, dst = sys.argv[1:]
    text = open(src).read()
    text = SMEM.sub(lambda m: f"{m.group(1)} *{m.group(2)} = reinterpret_cast<{m.group(1)} *>(emu::dynamic_smem());", text)
    if "extern __shared__" in text:
        raise SystemExit(f"cu2cpp: {src}: a dynamic shared memory declaration it does not know")
    text = rewrite_launches(text)
    with open(dst, "w") as f:
        f.write(f'#line 1 "{src}"\n{text}')


if __name__ == "__main__":
    main()
