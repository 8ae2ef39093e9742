"""Flower App components for a real deployment (``flwr run``): the config comes from ``run_config``.

See :mod:`unireps.federated.flower` for the ``pyproject.toml`` lines and the commands.
"""

from .flower import make_client_app, make_server_app

client_app = make_client_app()
server_app = make_server_app()
