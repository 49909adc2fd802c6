"""Templates for `doohickey plan init` (commented plans and their maps) and for `plan report`.

A plan template is a YAML file here plus the extra files it needs, listed in
:data:`TEMPLATES`; :func:`scaffold` copies them into a new folder (never over
an existing file), names the plan after the folder and writes the JSON Schema
the plan's first line points editors at.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from doohickey.errors import PlanError

HERE = Path(__file__).parent

# template name -> {file written in the new folder: template file here}
TEMPLATES: dict[str, dict[str, str]] = {
    "shopify-erp-wms": {
        "integration.yaml": "shopify-erp-wms.yaml",
        "maps/shopify-order-to-erp-sale.yaml": "shopify-erp-wms.order-map.yaml",
    },
    "shopify-tryton": {"integration.yaml": "shopify-tryton.yaml"},
}


class TemplateError(PlanError):
    """The template does not exist, or scaffolding would overwrite a file."""


def scaffold(template: str, directory: Path) -> list[Path]:
    """Write the template's files into ``directory``; return the paths written.

    Refuses (TemplateError) when the template is unknown or any file it would
    write already exists, before writing anything.
    """
    from doohickey.plan.schema import plan_schema

    if template not in TEMPLATES:
        raise TemplateError(f"unknown template {template!r}; templates: {', '.join(sorted(TEMPLATES))}")
    files = {**TEMPLATES[template], "integration.schema.json": ""}
    existing = [str(directory / name) for name in files if (directory / name).exists()]
    if existing:
        raise TemplateError(f"refusing to overwrite {', '.join(existing)}; choose an empty folder")
    name = re.sub(r"[^a-z0-9]+", "-", directory.resolve().name.lower()).strip("-") or "my-integration"
    written = []
    for target, source in files.items():
        path = directory / target
        path.parent.mkdir(parents=True, exist_ok=True)
        if source:
            text = (HERE / source).read_text(encoding="utf-8")
            if target == "integration.yaml":
                text = re.sub(r"(?m)^name: .*$", f"name: {name}", text, count=1)
        else:
            text = json.dumps(plan_schema(), indent=2) + "\n"
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
