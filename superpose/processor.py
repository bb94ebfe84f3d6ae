"""The processor a run's numbers come from: what decides the last bits of a float result.

XLA compiles each program for the vector instruction set (ISA) of the processor it runs on, capped by
`--xla_cpu_max_isa` in $XLA_FLAGS. Wider vectors and fused multiply-adds change the order and rounding of
float reductions, so the same seed gives results that agree to round-off, not bit for bit, across processors,
ISAs and jax / jaxlib versions. `record()` names all of them; results keep it in their environment, the golden
test compares bit for bit only where it matches the golden file's record, and `.ci/run` prints it.
"""

from __future__ import annotations

import os
import platform
import re
import subprocess
from importlib import metadata

ISA_ORDER = ("SSE4_2", "AVX", "AVX2", "AVX512")
"""The x86 levels XLA's --xla_cpu_max_isa distinguishes for float arithmetic, narrowest first."""
_FLAG_FOR_ISA = {"AVX512": "avx512f", "AVX2": "avx2", "AVX": "avx", "SSE4_2": "sse4_2"}


def _cpuinfo() -> tuple[str, set[str]]:
    """(model name, feature flags) from /proc/cpuinfo, or macOS's sysctl; empty where neither answers."""
    try:
        with open("/proc/cpuinfo") as f:
            text = f.read()
    except OSError:
        text = ""
    model = re.search(r"^model name\s*:\s*(.+)$", text, re.M)
    flags = re.search(r"^(?:flags|Features)\s*:\s*(.+)$", text, re.M)
    if model or flags:
        return (model.group(1).strip() if model else ""), set(flags.group(1).split() if flags else ())
    if platform.system() == "Darwin":
        def sysctl(name):
            try:
                return subprocess.run(
                    ["sysctl", "-n", name], capture_output=True, text=True, timeout=5
                ).stdout
            except (OSError, subprocess.SubprocessError):
                return ""

        features = sysctl("machdep.cpu.features") + " " + sysctl("machdep.cpu.leaf7_features")
        return sysctl("machdep.cpu.brand_string").strip(), {
            f.lower().replace(".", "_") for f in features.split()
        }
    return "", set()


def max_isa_flag(xla_flags: str | None = None) -> str | None:
    """The cap set by --xla_cpu_max_isa in $XLA_FLAGS (upper case), or None."""
    found = re.findall(
        r"--xla_cpu_max_isa=(\S+)", os.environ.get("XLA_FLAGS", "") if xla_flags is None else xla_flags
    )
    return found[-1].upper() if found else None


def isa(flags: set[str] | None = None, xla_flags: str | None = None) -> str:
    """The vector ISA XLA compiles for here: the processor's widest, capped by --xla_cpu_max_isa.
    Arm processors report NEON (SVE where present); an unknown x86 processor reports 'unknown'."""
    flags = _cpuinfo()[1] if flags is None else flags
    if platform.machine().lower() in ("arm64", "aarch64"):
        return "SVE" if "sve" in flags else "NEON"
    widest = next((level for level in reversed(ISA_ORDER) if _FLAG_FOR_ISA[level] in flags), None)
    if widest is None:
        return "unknown"
    cap = max_isa_flag(xla_flags)
    if cap is None:
        return widest
    capped = "AVX512" if cap.startswith(("AVX512", "AMX")) else cap  # AVX512_VNNI, AMX...: no narrower floats
    if capped in ISA_ORDER and ISA_ORDER.index(capped) < ISA_ORDER.index(widest):
        return capped
    return widest


def record() -> dict[str, str | None]:
    """What decides a float result's last bits here: architecture, processor model, effective vector ISA,
    jax and jaxlib versions and $XLA_FLAGS."""
    model, flags = _cpuinfo()
    return {
        "machine": platform.machine(),
        "model": model,
        "isa": isa(flags),
        **versions("jax", "jaxlib"),
        "xla_flags": os.environ.get("XLA_FLAGS", "").strip(),
    }


def versions(*packages: str) -> dict[str, str | None]:
    """Each installed package's version (None where it is not installed)."""
    out = {}
    for package in packages:
        try:
            out[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            out[package] = None
    return out


def vector_flags() -> list[str]:
    """The processor's vector-extension flags (sse4*, avx*, fma, asimd, sve...), as the OS reports them."""
    return sorted(f for f in _cpuinfo()[1] if re.match(r"(sse4|avx|fma|amx|asimd|sve|neon)", f))


def describe(rec: dict[str, str | None] | None = None) -> str:
    """One line: 'x86_64 AMD EPYC, AVX512; jax 0.10.2, jaxlib 0.10.2; XLA_FLAGS=...'."""
    r = record() if rec is None else rec
    flags = f"; XLA_FLAGS={r['xla_flags']}" if r.get("xla_flags") else ""
    return (
        f"{r['machine']} {r['model'] or 'unknown processor'}, {r['isa']}; jax {r['jax']}, "
        f"jaxlib {r['jaxlib']}{flags}"
    )


if __name__ == "__main__":
    print(
        f"processor: {describe()}; python {platform.python_version()}\nvector flags: "
        f"{' '.join(vector_flags())}"
    )
