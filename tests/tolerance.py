"""Float tolerances derived from the arithmetic, never from what one machine printed.

CPUs differ (AMD EPYC, Intel Xeon with AMX), and so do thread counts: a reduction may
be summed serially, pairwise, in SIMD lanes or per thread. Any order of summing ``n``
terms has an error of at most ``(n - 1) u / (1 - (n - 1) u) * sum |x_i|`` (Higham,
*Accuracy and Stability of Numerical Algorithms*, 2nd ed., eq. 4.4), with ``u`` the
unit roundoff of the dtype; the bounds below build on that.
"""

from __future__ import annotations

import torch

#: Unit roundoff of float32 and float64.
U32 = 2.0**-24
U64 = 2.0**-53


def unit(dtype: torch.dtype) -> float:
    """Unit roundoff of a float dtype."""
    return torch.finfo(dtype).eps / 2


def sum_error(n: int, abs_total: float, u: float = U32) -> float:
    """Largest rounding error of a sum of ``n`` terms whose absolute values add up to
    ``abs_total``, in any summation order."""
    k = max(n - 1, 1) * u
    return k / (1 - k) * abs_total
