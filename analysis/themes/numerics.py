"""Same data, same settings, same seed: the same themes on another machine.

Three libraries pick machine code for the CPU they find, and each choice changes the last bits of
floating-point results, which UMAP's stochastic layout then amplifies into other themes (measured
on the seed: six CPU/library combinations gave six different clusterings, ARI 0.43–0.68 between
them; see README "Reproducibility"):

* numba compiles UMAP's kernels (and ours, ``analysis.themes.layout``) for the host CPU with fastmath;
* OpenBLAS (inside numpy and scipy) picks kernels per CPU family (Haswell, SkylakeX, Zen …);
* numpy dispatches its own loops (``tanh``, reductions) to AVX2 or AVX-512 variants;
* OpenBLAS splits a product over as many threads as the machine has, which changes the order of
  its sums.

:func:`pin_environment` fixes all three *before* they are loaded: numba compiles for a generic
x86-64 target, OpenBLAS uses its Haswell kernels (AVX2 + FMA, present on every x86-64 CPU of the
supported kind), numpy leaves out its AVX-512 loops, and BLAS runs on one thread (the heavy parts
have their own thread-count-independent parallelism: ``analysis.themes.layout``, NN-descent). It must run before numpy is imported, so
``analysis/__init__.py`` calls it first thing, and the background jobs the dashboard starts are new
processes that call it too. Where numpy was already imported (a notebook that imported it first,
the Streamlit server process) nothing can be changed any more; :func:`state` then reports
``pinned: False`` and the run's manifest records it.

``MOYAMOYA_NATIVE_CPU=1`` keeps the host-specific code (a little faster, not reproducible across
machines).
"""

from __future__ import annotations

import os
import platform
import sys

__all__ = ["PINNED_ENV", "pin_environment", "state", "pinnable"]

PINNED_ENV: dict[str, str] = {
    "NUMBA_CPU_NAME": "generic",
    "OPENBLAS_CORETYPE": "Haswell",
    "NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR",
    # one BLAS thread: a multi-threaded reduction sums in an order that depends on the thread count
    "OPENBLAS_NUM_THREADS": "1",
}
_LOADED_TOO_EARLY = ("numpy", "numba", "scipy")
_pinned_here: bool | None = None


def pinnable() -> bool:
    """True on x86-64 CPUs with AVX2 and FMA (the kernels the pinned environment names)."""
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return False
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return {"avx2", "fma"} <= flags
    except OSError:
        return False
    return False


def pin_environment(environ: dict[str, str] | None = None) -> bool:
    """Set :data:`PINNED_ENV` (without overriding values the user set) if it can still take effect.

    Returns True when the current process runs pinned. ``environ`` (default ``os.environ``) lets a
    caller prepare the environment of a child process instead; then it is always applied.
    """
    global _pinned_here
    target = os.environ if environ is None else environ
    if target.get("MOYAMOYA_NATIVE_CPU", "") not in ("", "0"):
        if environ is None:
            _pinned_here = False
        return False
    if not pinnable():
        if environ is None:
            _pinned_here = False
        return False
    if environ is not None:
        for k, v in PINNED_ENV.items():
            environ.setdefault(k, v)
        return True
    if any(m in sys.modules for m in _LOADED_TOO_EARLY):
        _pinned_here = all(os.environ.get(k) == v for k, v in PINNED_ENV.items())
        return _pinned_here
    for k, v in PINNED_ENV.items():
        os.environ.setdefault(k, v)
    _pinned_here = all(os.environ.get(k) == v for k, v in PINNED_ENV.items())
    return _pinned_here


def state() -> dict[str, object]:
    """What this process computes with: recorded in every run's manifest."""
    out: dict[str, object] = {"pinned": bool(_pinned_here), "machine": platform.machine()}
    try:
        import numba

        out["numba_cpu"] = numba.config.CPU_NAME or "host"
    except Exception:  # pragma: no cover - numba is a hard dependency
        pass
    try:
        from threadpoolctl import threadpool_info

        out["blas"] = sorted({f"{i.get('internal_api')} {i.get('architecture')}" for i in threadpool_info()
                              if i.get("user_api") == "blas"})
    except Exception:
        pass
    try:
        from numpy._core._multiarray_umath import __cpu_features__

        out["numpy_avx512"] = bool(__cpu_features__.get("AVX512F")) and "X86_V4" not in os.environ.get(
            "NPY_DISABLE_CPU_FEATURES", "")
    except Exception:
        pass
    return out
