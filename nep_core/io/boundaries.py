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


def _match_province(props: dict, file):
    """The province of a feature: by ``adcode``, else ``code`` (1..5 or an adcode), else English ``name``."""
    lower = {str(k).lower(): v for k, v in props.items()}
    for key in ("adcode", "code", "name"):
        v = lower.get(key)
        if v is None:
            continue
        if key == "name":
            hits = [p for p in PROVINCES if str(v).strip().lower() == p.name.lower()]
        else:
            try:
                iv = int(v)
            except (TypeError, ValueError):
                continue
            hits = [p for p in PROVINCES if iv == p.adcode or (key == "code" and iv == p.code)]
        if hits:
            return hits[0]
    raise NepInputError(f"feature with properties {props!r} is not one of the five provinces "
                        "(need adcode 610000..650000, code 1..5 or an English name)", file=file)


def read_boundaries(path) -> list[Boundary]:
    """Province outlines, one :class:`Boundary` per province sorted by code (features unioned).

    ``path`` is a ``.geojson`` / ``.json`` (WGS84 lon/lat; a legacy ``crs`` member other than
    WGS84/CRS84 is an error) or a ``.shp`` (its ``.prj`` is required; reprojected to WGS84). Each
    feature is matched to a province by ``adcode``, ``code`` or ``name``.
    """
    import shapely
    from shapely.geometry import shape

    path = Path(path)
    if not path.exists():
        raise NepInputError("boundary file does not exist", file=path)
    feats = []
    src_crs = "EPSG:4326"
    if path.suffix.lower() in (".geojson", ".json"):
        try:
            doc = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise NepInputError(f"not valid GeoJSON: {exc}", file=path) from exc
        crs = (doc.get("crs") or {}).get("properties", {}).get("name")
        if crs is not None and not re.search(r"(CRS84|EPSG:+4326)$", str(crs)):
            raise NepInputError(f"GeoJSON declares CRS {crs!r}; only WGS84 lon/lat is accepted",
                                file=path, variable="crs")
        for f in (doc.get("features") if doc.get("type") == "FeatureCollection" else [doc]) or []:
            try:
                feats.append((f.get("properties") or {}, shape(f["geometry"])))
            except Exception as exc:
                raise NepInputError(f"unreadable geometry: {exc}", file=path) from exc
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
                feats = [(dict(zip(fields, sr.record)), shape(sr.shape.__geo_interface__))
                         for sr in r.iterShapeRecords()]
        except shapefile.ShapefileException as exc:
            raise NepInputError(f"cannot read shapefile: {exc}", file=path) from exc
    else:
        raise NepInputError("boundaries must be .geojson/.json or .shp", file=path)
    if not feats:
        raise NepInputError("no features", file=path)
    merged: dict = {}
    for props, geom in feats:
        p = _match_province(props, path)
        if src_crs != "EPSG:4326":
            geom = project_geometry(geom, src_crs, "EPSG:4326")
        minx, miny, maxx, maxy = geom.bounds
        if not (-180 <= minx <= maxx <= 360 and -90 <= miny <= maxy <= 90):
            raise NepInputError(f"coordinates {geom.bounds} are not WGS84 degrees; GeoJSON must be "
                                "lon/lat (RFC 7946) and a shapefile needs a .prj", file=path)
        merged.setdefault(p, []).append(geom if geom.is_valid else shapely.make_valid(geom))
    return [Boundary(*p, shapely.union_all(merged[p])) for p in sorted(merged)]
