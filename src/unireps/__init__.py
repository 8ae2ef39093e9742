"""unireps: when, how and why do different neural models learn the same representations?

Layers, one job each: ``metrics`` (measures, know nothing of models), ``models`` (load and extract),
``data`` (datasets), ``zoo`` (small models trained here), ``analysis``, ``viz``, ``report``, ``app``, ``cli``.
"""

__version__ = "0.1.0"
