"""After ``mkdocs build``: every public name of every documented package has an entry in its API page.

Run: ``python scripts/check_api_docs.py`` (``make docs`` does); exits 1 naming the missing names.
"""

from __future__ import annotations

import importlib
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ["metrics", "data", "models", "zoo", "analysis", "viz", "transfer", "stitch", "merge", "applications",
            "export", "report", "errors", "io"]


def main() -> int:
    missing = {}
    for pkg in PACKAGES:
        module = importlib.import_module(f"unireps.{pkg}")
        names = getattr(module, "__all__", None) or [
            n for n, v in vars(module).items()
            if not n.startswith("_") and getattr(v, "__module__", None) == module.__name__
        ]
        html = (ROOT / "site" / "api" / pkg / "index.html").read_text(encoding="utf-8")
        ids = set(re.findall(r'id="unireps\.[\w.]*?\.?(\w+)"', html))
        if lost := [n for n in names if n not in ids]:
            missing[pkg] = lost
    for pkg, lost in missing.items():
        print(f"docs/api/{pkg}.md has no entry for: {', '.join(lost)}", file=sys.stderr)
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
