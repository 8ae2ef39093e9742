"""``python -m unireps ...`` runs the command line, as the ``unireps`` script does."""

from .cli import main

raise SystemExit(main())
