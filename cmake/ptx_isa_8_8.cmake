# cmake -DPTX=<file> -P ptx_isa_8_8.cmake: relabel a PTX file's ISA version to 8.8, the
# newest the ptxas of CUDA 12.9 accepts. nvcc 13 stamps its output `.version 9.0`; every
# kernel of the grid uses only ISA <= 8.8 features (wgmma, setmaxnreg, TMA, griddepcontrol),
# which ptxas 12.9 checks when it assembles the file (benchmarks/NOTES.md #23).
file(READ "${PTX}" text)
string(REGEX REPLACE "\n\\.version [0-9]+\\.[0-9]+\n" "\n.version 8.8\n" text "${text}")
file(WRITE "${PTX}" "${text}")
