"""``unireps app`` (the interactive module, both routes) and ``unireps analytics`` (its opt-in engagement summary)."""

from __future__ import annotations

from .common import add_json, emit


def register(sub) -> None:
    a = sub.add_parser("app", help="serve the interactive module on 127.0.0.1 (offline)",
                       description="Serve /multimodal (how one image–text model works) and /unireps-multimodal (the "
                       "research module) from one process on 127.0.0.1, offline: no analytics to anyone, no CDN, "
                       "no share links.")
    a.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    a.add_argument("--port", type=int, default=7860)
    a.add_argument("--model", action="append", dest="models", help="restrict the model choices (repeatable)")
    a.add_argument("--analytics-db", default=None, help="SQLite file for the opt-in engagement metrics")
    a.add_argument("--no-precompute", action="store_true", help="skip warming the caches at start-up")
    a.add_argument("--dashboard", action="store_true",
                   help="also serve the owner's dashboard of the opt-in metrics at /dashboard (off by default; "
                        "UNIREPS_DASHBOARD_PASSWORD puts it behind a login, user 'owner')")
    a.set_defaults(func=run_app)

    s = sub.add_parser("analytics", help="summarise the app's opt-in, local engagement metrics",
                       description="Tab views, time on tab, uploads and model combinations tried (no personal data, "
                       "no upload contents), from the app's SQLite file.")
    s.add_argument("--db", default=None, help="the SQLite file (default: the app's default)")
    add_json(s)
    s.set_defaults(func=run_analytics)


def check_port(port: int) -> None:
    if not 1 <= port <= 65535:
        raise ValueError(f"--port {port}: give a TCP port between 1 and 65535 (default 7860)")


def check_app_models(models: list[str] | None) -> None:
    """The app only offers registered models usable offline: an unknown or missing name is an error, not a silently
    shorter menu."""
    if not models:
        return
    import unireps.zoo  # noqa: F401  (registers the built zoo models)

    from ..app.engine import register_toy_models
    from ..models import list_models

    register_toy_models()
    known = {m.name: m for m in list_models()}
    for name in models:
        if name not in known:
            import difflib

            close = difflib.get_close_matches(name, list(known), n=3)
            hint = f" (did you mean {', '.join(map(repr, close))}?)" if close else ""
            raise ValueError(f"--model {name!r} is not a registered model{hint}; the app offers registered models "
                             "only: see `unireps models --available`")
        if not known[name].available:
            raise ValueError(f"--model {name!r} is not available offline; build the zoo (`unireps zoo build`) or "
                             "download it first, see `unireps models --available`")


def run_app(args) -> int:
    from ..app import launch

    check_port(args.port)
    check_app_models(args.models)
    launch(host=args.host, port=args.port, models=args.models, analytics_db=args.analytics_db,
           precompute=not args.no_precompute, dashboard=bool(args.dashboard))
    return 0


def run_analytics(args) -> int:
    import sqlite3
    from pathlib import Path

    from ..app.analytics import summary, summary_table

    if args.db is not None:
        if not Path(args.db).exists():
            raise FileNotFoundError(f"no such file: {args.db} (the app writes it when started with --analytics-db "
                                    f"{args.db}); omit --db for the app's default file")
        if Path(args.db).is_dir():
            raise ValueError(f"--db {args.db} is a folder; give the app's SQLite file")
    try:
        emit(summary(args.db), args.json, summary_table(args.db))
    except sqlite3.DatabaseError as e:
        raise ValueError(f"cannot read {args.db or 'the analytics file'} as the app's SQLite database ({e})") from e
    return 0
