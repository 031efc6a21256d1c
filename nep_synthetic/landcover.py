"""Planted land-cover history of the synthetic scenario and the MOD17 codes it implies.

MCD12C1 2019 resampled (nearest) to the grid is the 2022 map; 2011 and 2000 maps are made by
reversing planted transitions (barren <-> grassland, grassland -> cropland / forest, water ->
barren, ...) of 4.19 % (2011-2022) and 7.76 % (2000-2011) of the region, chosen in smooth random
patches; each changed pixel changes in one seeded year and keeps its new class.
"""
from __future__ import annotations

import numpy as np

from nep_core import io as nio
from .climate import Smooth

# representative IGBP code of each class (for planted transitions)
_REP_IGBP = {1: 4, 2: 10, 3: 12, 4: 11, 5: 13, 6: 17, 7: 16}
#: planted transitions: (period, from class, to class, % of the region's area)
TRANSITIONS = [
    # 2000 -> 2011, 7.76 % of the region
    (1, 7, 2, 3.778), (1, 2, 7, 1.728), (1, 2, 3, 1.232), (1, 7, 3, 0.15), (1, 3, 2, 0.25),
    (1, 2, 1, 0.36), (1, 1, 2, 0.01), (1, 6, 7, 0.21), (1, 4, 2, 0.04), (1, 3, 5, 0.002),
    # 2011 -> 2022, 4.19 % of the region
    (2, 7, 2, 1.70), (2, 2, 7, 1.05), (2, 2, 3, 0.75), (2, 7, 3, 0.10), (2, 2, 1, 0.25),
    (2, 3, 2, 0.20), (2, 6, 7, 0.08), (2, 4, 2, 0.03), (2, 3, 5, 0.005), (2, 2, 5, 0.003),
    (2, 1, 2, 0.02),
]


def plan_landcover(igbp22, xr_, yr_, rng, n_region):
    """Backward planted transitions -> per-pixel classes / IGBP codes of 2000, 2011, 2022 and the
    years of the two changes (``y1``, ``y2``; 0 = no change)."""
    cls22 = nio.recode_igbp(igbp22).astype(np.int8)
    later_c, later_i = cls22, igbp22
    plan = {}
    for period in (2, 1):
        earlier_c, earlier_i = later_c.copy(), later_i.copy()
        used = np.zeros(n_region, bool)
        field = Smooth(rng, n=8, scale_m=300e3)(xr_, yr_)
        jitter = rng.random(n_region).astype(np.float32)
        for per, frm, to, pct in TRANSITIONS:
            if per != period:
                continue
            k = int(round(pct / 100.0 * n_region))
            cand = np.flatnonzero((later_c == to) & ~used)
            if k == 0 or cand.size == 0:
                continue
            k = min(k, cand.size)
            score = field[cand] + 0.5 * jitter[cand]
            pick = cand[np.argpartition(-score, k - 1)[:k]]
            earlier_c[pick] = frm
            earlier_i[pick] = _REP_IGBP[frm]
            used[pick] = True
        lo, hi = (2001, 2011) if period == 1 else (2012, 2022)
        year = np.where(used, rng.integers(lo, hi + 1, n_region), 0).astype(np.int16)
        plan[period] = (earlier_c, earlier_i, year)
        later_c, later_i = earlier_c, earlier_i
    c00, i00, y1 = plan[1]
    c11, i11, y2 = plan[2]
    return {"c00": c00, "i00": i00, "y1": y1, "c11": c11, "i11": i11, "y2": y2, "c22": cls22, "i22": igbp22}


def lc_at(plan, year, key="c"):
    """Class (key 'c') or IGBP code (key 'i') of every region pixel in ``year`` (after 2022: 2022's)."""
    a00, a11, a22 = plan[key + "00"], plan[key + "11"], plan[key + "22"]
    out = np.where((plan["y1"] > 0) & (year < plan["y1"]), a00, a11)
    return np.where((plan["y2"] > 0) & (year >= plan["y2"]), a22, out)


def npp_fill_code(plan, year, mask_um):
    """MOD17A3HGF fill code per region pixel in ``year`` (0 = vegetated, NPP computed).

    Barren / snow / water carry 32765 / 32764 / 32766; urban / wetland pixels with ``mask_um``
    carry 32762 / 32763 (MOD17 masks them, but the study reports NEP for both classes, so its masks
    evidently disagreed with MCD12Q1).
    """
    c, i = lc_at(plan, year, "c"), lc_at(plan, year, "i")
    code = np.zeros(c.size, np.int16)
    code[c == 7] = 32765
    code[i == 15] = 32764
    code[c == 6] = 32766
    code[(c == 5) & mask_um] = 32762
    code[(c == 4) & mask_um] = 32763
    return code


def transition_matrix(a, b, area):
    """Area (km2) moving from class a (rows 1..7) to class b (columns 1..7)."""
    m = np.bincount(a.astype(np.int64) * 8 + b.astype(np.int64), minlength=64).reshape(8, 8)
    return (m[1:, 1:] * area).astype(np.float64)
