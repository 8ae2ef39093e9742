"""Hugging Face Spaces entry point (sdk: gradio) — also runs from a plain checkout: ``python app.py``.

Serves ``/multimodal`` (how one image–text model works, for students) and ``/unireps-multimodal`` (the research
module) from one process; see docs/app.md.  Environment:

* ``GRADIO_SERVER_NAME`` / ``GRADIO_SERVER_PORT``: where to listen (Spaces sets 0.0.0.0 and 7860; the default here
  is 127.0.0.1:7860);
* ``UNIREPS_BUILD_ZOO``: a zoo preset (``tiny``, ``default``) to build before serving when it is not built yet;
* ``UNIREPS_CACHE``: cache folder (zoo, activations, precomputed tables);
* ``UNIREPS_ANALYTICS_DB``: the SQLite file of the opt-in usage counts.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
SRC = Path(__file__).resolve().parent / "src"
if SRC.is_dir() and str(SRC) not in sys.path:
    sys.path.insert(0, str(SRC))  # a Space (or a checkout) runs without installing the package


def main() -> None:
    preset = os.environ.get("UNIREPS_BUILD_ZOO")
    if preset:
        import unireps.zoo as zoo

        zoo.build(preset, progress=False)
    from unireps.app import launch

    launch(host=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
           port=int(os.environ.get("GRADIO_SERVER_PORT", "7860")),
           analytics_db=os.environ.get("UNIREPS_ANALYTICS_DB") or None)


if __name__ == "__main__":
    main()
