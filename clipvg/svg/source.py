"""Reading an SVG file: size limits, .svgz inflation, defusedxml parsing, tag names."""

from __future__ import annotations

import gzip
import io
import os
from pathlib import Path
from xml.etree.ElementTree import Element, ParseError

from ..errors import ClipvgError
from ..io import missing_message
from .limits import SvgLimits, limit_error

SVG_NS = "{http://www.w3.org/2000/svg}"
XLINK_HREF = "{http://www.w3.org/1999/xlink}href"


def read_source(path: str | os.PathLike, limits: SvgLimits) -> bytes:
    p = Path(path)
    try:
        size = p.stat().st_size
        if p.is_dir():
            raise ClipvgError(f"{p} is a folder, not an SVG file; pass the path of an .svg file")
        if size > limits.max_file_bytes:
            raise limit_error(f"{p} is {size} bytes", "max_file_bytes", limits.max_file_bytes)
        data = p.read_bytes()
    except FileNotFoundError:
        raise ClipvgError(missing_message(p, "SVG")) from None
    except PermissionError:
        raise ClipvgError(f"cannot read {p}: permission denied") from None
    except OSError as exc:
        raise ClipvgError(f"cannot read {p}: {exc.strerror or exc}") from None
    return data


def decompress(data: bytes, label: str, limits: SvgLimits) -> bytes:
    """Inflate .svgz data, refusing anything that grows past ``max_file_bytes``."""
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as f:
            out = f.read(limits.max_file_bytes + 1)
    except (OSError, EOFError) as exc:
        raise ClipvgError(f"{label} is not a valid SVG file: broken gzip data ({exc})") from None
    if len(out) > limits.max_file_bytes:
        raise limit_error(
            f"{label} inflates to over {limits.max_file_bytes} bytes",
            "max_file_bytes",
            limits.max_file_bytes,
        )
    return out


def parse_xml(data: bytes, label: str, limits: SvgLimits) -> Element:
    """Parse with defusedxml (entities and external references refused); check the root."""
    import defusedxml.ElementTree as DET
    from defusedxml import DefusedXmlException

    if not data.strip():
        raise ClipvgError(f"{label} is not a valid SVG file: it is empty")
    # Every element has one start tag, "<" not followed by "/": counting them bounds
    # the tree's memory before it is built (comments or CDATA can only add to it).
    tags = data.count(b"<") - data.count(b"</")
    if tags > limits.max_elements:
        raise limit_error(f"{label} has about {tags} elements", "max_elements", limits.max_elements)
    attributes = data.count(b"=")  # an over-count (text, CSS), never an under-count
    if attributes > limits.max_attributes:
        raise limit_error(
            f"{label} has about {attributes} attributes", "max_attributes", limits.max_attributes
        )
    try:
        root = DET.fromstring(data, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except (LookupError, UnicodeError) as exc:
        raise ClipvgError(
            f"{label} is not a valid SVG file: unusable text encoding ({exc}); save it as UTF-8"
        ) from None
    except DefusedXmlException:
        raise ClipvgError(
            f"{label} contains XML entity declarations or external references (DTD), which clipvg "
            "refuses for safety; remove the <!DOCTYPE ...[ ]> block or re-export the SVG"
        ) from None
    except ParseError as exc:
        raise ClipvgError(
            f"{label} is not a valid SVG file: XML syntax error ({exc}); check that it is an SVG file"
        ) from None
    if local_name(root.tag) != "svg" or not is_svg_tag(root.tag):
        raise ClipvgError(
            f"{label} is not a valid SVG file: the root element is <{root.tag}>, not <svg> "
            'in the SVG namespace (xmlns="http://www.w3.org/2000/svg")'
        )
    return root


def local_name(tag: object) -> str:
    if not isinstance(tag, str):
        return ""  # comments and processing instructions
    return tag.rsplit("}", 1)[-1]


def is_svg_tag(tag: object) -> bool:
    return isinstance(tag, str) and (tag.startswith(SVG_NS) or not tag.startswith("{"))
