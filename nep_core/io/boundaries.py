"""Province outlines: GeoJSON (RFC 7946, WGS84 lon/lat) or ESRI shapefile with a ``.prj`` (pyshp)."""
from __future__ import annotations

import json
import re
from collections import namedtuple
from pathlib import Path

from ..crs import project_geometry
from ..errors import NepInputError
from ..vocab import PROVINCES

Boundary = namedtuple("Boundary", "code name adcode geometry")
Boundary.__doc__ = "A province outline: analysis code 1..5, name, adcode, shapely geometry (WGS84 lon/lat)."


def _match_province(props: dict, file) -> tuple[int, str, int | None]:
    by_code = {p.code: p for p in PROVINCES}
    by_ad = {p.adcode: p for p in PROVINCES}
    by_name = {p.name.lower(): p for p in PROVINCES}
    lower = {str(k).lower(): v for k, v in props.items()}
    for key in ("adcode", "code", "name"):
        if key in lower and lower[key] is not None:
            v = lower[key]
            try:
                iv = int(v)
            except (TypeError, ValueError):
                iv = None
            if key == "adcode" and iv in by_ad:
                p = by_ad[iv]
            elif key == "code" and iv in by_code:
                p = by_code[iv]
            elif key == "code" and iv in by_ad:
                p = by_ad[iv]
            elif key == "name" and str(v).strip().lower() in by_name:
                p = by_name[str(v).strip().lower()]
            else:
                continue
            return p.code, p.name, p.adcode
    raise NepInputError(f"feature with properties {props!r} is not one of the five provinces "
                        "(need adcode 610000..650000, code 1..5 or an English name)", file=file)


def _check_lonlat(geom, file):
    minx, miny, maxx, maxy = geom.bounds
    if not (-180 <= minx <= maxx <= 360 and -90 <= miny <= maxy <= 90):
        raise NepInputError(f"coordinates {geom.bounds} are not WGS84 degrees; GeoJSON must be "
                            "lon/lat (RFC 7946) and a shapefile needs a .prj", file=file)


def read_boundaries(path) -> list[Boundary]:
    """Province outlines from a GeoJSON or a shapefile.

    Parameters
    ----------
    path : str or path
        ``.geojson`` / ``.json`` (WGS84 lon/lat; a legacy ``crs`` member other than WGS84/CRS84 is
        an error) or ``.shp`` (its ``.prj`` is required; geometries are reprojected to WGS84).
        Each feature is matched to a province by ``adcode``, ``code`` or ``name``.

    Returns
    -------
    list of Boundary
        ``(code, name, adcode, geometry)`` sorted by code, one per province (several features of
        one province are unioned). No GeoDataFrame.
    """
    import shapely
    from shapely.geometry import shape

    path = Path(path)
    if not path.exists():
        raise NepInputError("boundary file does not exist", file=path)
    feats = []
    if path.suffix.lower() in (".geojson", ".json"):
        try:
            doc = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise NepInputError(f"not valid GeoJSON: {exc}", file=path) from exc
        crs = (doc.get("crs") or {}).get("properties", {}).get("name")
        if crs is not None and not re.search(r"(CRS84|EPSG:+4326)$", str(crs)):
            raise NepInputError(f"GeoJSON declares CRS {crs!r}; only WGS84 lon/lat is accepted",
                                file=path, variable="crs")
        items = doc.get("features") if doc.get("type") == "FeatureCollection" else [doc]
        for f in items or []:
            try:
                geom = shape(f["geometry"])
            except Exception as exc:
                raise NepInputError(f"unreadable geometry: {exc}", file=path) from exc
            feats.append((f.get("properties") or {}, geom))
        src_crs = "EPSG:4326"
    elif path.suffix.lower() == ".shp":
        import shapefile  # pyshp
        from pyproj import CRS

        prj = path.with_suffix(".prj")
        if not prj.exists():
            raise NepInputError("shapefile has no .prj: its CRS is unknown", file=path, variable="crs")
        try:
            src_crs = CRS.from_wkt(prj.read_text()).to_string()
        except Exception as exc:
            raise NepInputError(f"cannot parse the .prj: {exc}", file=prj, variable="crs") from exc
        try:
            with shapefile.Reader(str(path)) as r:
                fields = [f[0] for f in r.fields[1:]]
                for sr in r.iterShapeRecords():
                    feats.append((dict(zip(fields, sr.record)), shape(sr.shape.__geo_interface__)))
        except shapefile.ShapefileException as exc:
            raise NepInputError(f"cannot read shapefile: {exc}", file=path) from exc
    else:
        raise NepInputError("boundaries must be .geojson/.json or .shp", file=path)
    if not feats:
        raise NepInputError("no features", file=path)
    merged: dict[int, list] = {}
    meta = {}
    for props, geom in feats:
        code, name, adcode = _match_province(props, path)
        if src_crs != "EPSG:4326":
            geom = project_geometry(geom, src_crs, "EPSG:4326")
        _check_lonlat(geom, path)
        if not geom.is_valid:
            geom = shapely.make_valid(geom)
        merged.setdefault(code, []).append(geom)
        meta[code] = (name, adcode)
    return [Boundary(c, meta[c][0], meta[c][1], shapely.union_all(merged[c])) for c in sorted(merged)]
