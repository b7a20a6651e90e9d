"""What a built fp8gemm library needs from the system, read from the binary itself.

    python scripts/check_binary.py [path/to/_C.so]   (default: python/fp8gemm/_C.so)

Prints the shared libraries it names (readelf -d), the CUDA symbols it leaves undefined
(nm -D: there should be none: libcuda.so.1 is opened at run time), the cubin toolchain
string the build recorded, and the ELF header of every cubin embedded in it (found by
their ELF magic inside the library): machine, OS/ABI and ABI version (what decides which
driver family loads them: CUDA 12 cubins carry OS/ABI 0x33 and ABI version 7, CUDA 13
ones 0x41 and 8) and the SM the flags name (bits 0-7 in ABI 7, bits 8-15 in ABI 8; the
"a" of sm_90a shows in `cuobjdump -sass`: "code for sm_90a"). Exits 1 if a CUDA runtime or
driver symbol is linked.
"""

from __future__ import annotations

import collections
import re
import struct
import subprocess
import sys
from pathlib import Path

EM_CUDA = 190


def embedded_cubins(data: bytes) -> list[tuple[int, int, int, int, int]]:
    """(offset, OS/ABI, ABI version, e_flags, size) of each 64-bit CUDA ELF inside `data`."""
    found = []
    for m in re.finditer(re.escape(b"\x7fELF\x02\x01"), data):
        off = m.start()
        if off == 0 or off % 8:
            continue  # the library's own header; cubins are embedded 128-byte aligned
        osabi, abiver = data[off + 7], data[off + 8]
        (machine,) = struct.unpack_from("<H", data, off + 18)
        if machine != EM_CUDA:
            continue
        (shoff,) = struct.unpack_from("<Q", data, off + 40)
        (flags,) = struct.unpack_from("<I", data, off + 48)
        shentsize, shnum = struct.unpack_from("<HH", data, off + 58)
        found.append((off, osabi, abiver, flags, shoff + shentsize * shnum))
    return found


def main() -> int:
    lib = Path(sys.argv[1] if len(sys.argv) > 1 else "python/fp8gemm/_C.so")
    dynamic = subprocess.run(["readelf", "-d", str(lib)], capture_output=True, text=True, check=True).stdout
    needed = re.findall(r"\(NEEDED\)\s+Shared library: \[(.+?)\]", dynamic)
    print(f"{lib}: {lib.stat().st_size / 2**20:.1f} MiB")
    print("NEEDED: " + ", ".join(needed))
    undefined = subprocess.run(["nm", "-D", "--undefined-only", str(lib)], capture_output=True, text=True,
                               check=True).stdout.split()
    cuda = [s for s in undefined if s.startswith("cuda") or re.match(r"cu[A-Z]", s)]
    print(f"undefined CUDA runtime/driver symbols: {len(cuda)}{' ' + ', '.join(cuda[:8]) if cuda else ''}")
    data = lib.read_bytes()
    toolchain = re.search(rb"cu1[0-9]: [ -~]+", data)
    print(f"cubin toolchain: {toolchain.group().decode() if toolchain else 'not recorded'}")
    cubins = embedded_cubins(data)
    kinds = collections.Counter((osabi, abiver, flags & 0xFF if abiver < 8 else (flags >> 8) & 0xFF)
                                for _, osabi, abiver, flags, _ in cubins)
    print(f"embedded cubins: {len(cubins)}, {sum(c[4] for c in cubins) / 2**20:.1f} MiB")
    for (osabi, abiver, sm), count in sorted(kinds.items()):
        print(f"  {count} x OS/ABI 0x{osabi:02x}, ABI version {abiver}, SM {sm}")
    runtime = [n for n in needed if n.startswith("libcudart")] + [s for s in cuda if s.startswith("cuda")]
    return 1 if runtime or cuda else 0


if __name__ == "__main__":
    sys.exit(main())
