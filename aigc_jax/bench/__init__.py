"""Benchmarks: side-by-side throughput against PyTorch references and the machine's
own matrix-product limit, in one run (`aigc bench`). Timings are figures to read, never
assertions in tests."""
