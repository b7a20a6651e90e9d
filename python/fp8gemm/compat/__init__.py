"""Drop-in APIs of other libraries, mapped onto fp8gemm's ops (see ``deep_gemm``)."""
