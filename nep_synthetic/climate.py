"""Closed-form climate of the synthetic scenario, evaluated identically on the grid and at stations.

Smooth climatologies of longitude, latitude and elevation (precipitation falling from the south-east
to the north-west with a Tianshan / Ili maximum; temperature with a lapse rate of -6.0 degC/km;
radiation highest over the Qaidam / central plateau), seasonal cycles, planted linear trends
(temperature +0.04 degC a-1, precipitation +0.5 % a-1, radiation +5.47 MJ m-2 a-1 on the annual
total), and anomalies built from five low-frequency spatial modes (1, u, v, uv, cos(pi u) cos(pi v)
of the scaled Albers coordinates) with random yearly and monthly coefficients, so that station
interpolation can recover them. Grid and stations evaluate the same functions (stations at their
own elevation) -- the grid values are the truth.
"""
from __future__ import annotations

import numpy as np

from nep_core.carbon import rh_pei
from nep_core.crs import lonlat_to_xy

T_TREND = 0.04          # degC a-1 (regional mean)
P_TREND = 0.005         # fraction a-1 of the climatological annual total
R_TREND = 5.47          # MJ m-2 a-1 on the annual total
LAPSE = -0.006          # degC m-1

_XC, _YC, _LX, _LY = -1.0e6, 4.4e6, 1.6e6, 1.0e6   # centre and half-extents of NWC in Albers (m)


class Smooth:
    """A seeded smooth random field: a sum of plane waves of ~``scale_m`` wavelength, unit sd."""

    def __init__(self, rng, n=8, scale_m=900e3):
        ang = rng.uniform(0, np.pi, n)
        lam = scale_m * rng.uniform(0.6, 1.6, n)
        self.kx = 2 * np.pi / lam * np.cos(ang)
        self.ky = 2 * np.pi / lam * np.sin(ang)
        self.ph = rng.uniform(0, 2 * np.pi, n)
        self.norm = np.sqrt(2.0 / n)

    def __call__(self, x, y):
        out = np.zeros(np.shape(x), np.float32)
        for kx, ky, ph in zip(self.kx, self.ky, self.ph):
            out += np.cos(kx * x + ky * y + ph).astype(np.float32)
        return out * np.float32(self.norm)


def modes(x, y):
    """The five anomaly modes (1, u, v, uv, cos(pi u) cos(pi v)) at Albers points, shape (5, n)."""
    u = ((np.asarray(x) - _XC) / _LX).astype(np.float32)
    v = ((np.asarray(y) - _YC) / _LY).astype(np.float32)
    return np.stack([np.ones_like(u), u, v, u * v, np.cos(np.pi * u) * np.cos(np.pi * v)])


def _gauss(lon, lat, lon0, lat0, slon, slat):
    return np.exp(-((lon - lon0) / slon) ** 2 - ((lat - lat0) / slat) ** 2)


def climatology(lon, lat, x, y, elev, tfield):
    """Static climate of points: annual mean T, seasonal half-range, annual P, P seasonality, annual R."""
    lon = np.asarray(lon, np.float64)
    lat = np.asarray(lat, np.float64)
    ekm = np.asarray(elev, np.float64) / 1000.0
    t_sl = (16.5 - 0.75 * (lat - 35) + 0.03 * (lon - 95) + 5.0 * _gauss(lon, lat, 82, 39.5, 8, 2.5)
            + 3.5 * _gauss(lon, lat, 96, 35, 7, 3))
    tann = t_sl + LAPSE * 1000.0 * ekm
    amp = 12.5 + 0.35 * (lat - 35) + 0.02 * (lon - 95)
    x0, y0 = lonlat_to_xy(110.5, 32.0)
    d = np.hypot(np.asarray(x) - x0, np.asarray(y) - y0) / 1000.0
    pann = (950.0 * np.exp(-d / 850.0) + 330.0 * _gauss(lon, lat, 83, 43.6, 5, 1.5)
            + 150.0 * _gauss(lon, lat, 100.5, 37.5, 4, 2)) * (1 + 0.15 * np.clip(ekm, 0, None))
    pann = np.maximum(pann, 15.0)
    kseas = 0.5 + 0.4 / (1 + np.exp(-(lon - 95) / 5))
    rann = (4700 + 1700 * _gauss(lon, lat, 93, 37, 9, 4) + 150 * np.clip(ekm, 0, None)
            - 500 * _gauss(lon, lat, 108, 33, 3, 2))
    ttrend = T_TREND * (1 + 0.3 * tfield(np.asarray(x), np.asarray(y)))
    f32 = np.float32
    return {"tann": tann.astype(f32), "amp": amp.astype(f32), "pann": pann.astype(f32),
            "kseas": kseas.astype(f32), "rann": rann.astype(f32), "ttrend": ttrend.astype(f32)}


class Coefs:
    """Yearly and monthly modal anomaly coefficients (seeded, resolution-independent)."""

    SD_ANN = {"t": [0.45, 0.25, 0.25, 0.15, 0.15], "p": [0.10, 0.06, 0.06, 0.04, 0.04],
              "r": [0.012, 0.008, 0.008, 0.004, 0.004]}
    SD_MON = {"t": [0.8, 0.4, 0.4, 0.2, 0.2], "p": [0.30, 0.20, 0.20, 0.10, 0.10],
              "r": [0.03, 0.015, 0.015, 0.01, 0.01]}

    def __init__(self, rng, n_years):
        self.ann, self.mon = {}, {}
        for v in ("t", "p", "r"):
            self.ann[v] = rng.standard_normal((n_years, 5)) * np.array(self.SD_ANN[v])
            self.mon[v] = rng.standard_normal((n_years, 12, 5)) * np.array(self.SD_MON[v])
        # cloudier wet years: radiation anomalies anti-correlated with precipitation
        self.ann["r"] -= 0.5 * self.ann["p"] * (np.array(self.SD_ANN["r"]) / np.array(self.SD_ANN["p"]))
        # zero mean and zero linear trend of every mode's yearly total (annual + mean monthly), so
        # the realised trends equal the planted ones (exactly for T, to first order for P and R)
        t = np.arange(n_years) - (n_years - 1) / 2.0
        for v in ("t", "p", "r"):
            tot = self.ann[v] + self.mon[v].mean(axis=1)
            slope = (t[:, None] * (tot - tot.mean(0))).sum(0) / (t ** 2).sum()
            self.ann[v] -= tot.mean(0) + t[:, None] * slope


def month_fields(clim, md, coefs, iy, t, m):
    """True monthly T (degC), P (mm), R (MJ m-2) of month m (1..12), year index iy; ``md``: :func:`modes`."""
    ph = np.float32(np.cos(2 * np.pi * (m - 7) / 12))
    a_t, a_p, a_r = (np.tensordot(coefs.ann[v][iy] + coefs.mon[v][iy, m - 1], md, 1) for v in "tpr")
    tm = clim["tann"] + clim["amp"] * ph + clim["ttrend"] * np.float32(t) + a_t
    w = (1 + clim["kseas"] * ph) / np.float32(12.0)
    pm = clim["pann"] * w * np.exp(a_p) * np.float32(1 + P_TREND * t)
    wr = np.float32((1 + 0.55 * np.cos(2 * np.pi * (m - 6.5) / 12)) / 12.0)
    rm = (clim["rann"] + np.float32(R_TREND * t)) * wr * (1 + a_r)
    return tm.astype(np.float32), pm.astype(np.float32), rm.astype(np.float32)


def annual_climate(clim, md, coefs, iy, t, rh_params):
    """Annual T mean, P sum, R sum and Rh sum (Pei, monthly) for year index iy."""
    T, P, R, RH = (np.zeros(clim["tann"].shape[0], np.float32) for _ in range(4))
    for m in range(1, 13):
        tm, pm, rm = month_fields(clim, md, coefs, iy, t, m)
        T += tm
        P += pm
        R += rm
        RH += rh_pei(tm, pm, rh_params).astype(np.float32)
    return T / np.float32(12.0), P, R, RH
