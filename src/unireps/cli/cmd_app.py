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
    a.set_defaults(func=run_app)

    s = sub.add_parser("analytics", help="summarise the app's opt-in, local engagement metrics",
                       description="Tab views, time on tab, uploads and model combinations tried (no personal data, "
                       "no upload contents), from the app's SQLite file.")
    s.add_argument("--db", default=None, help="the SQLite file (default: the app's default)")
    add_json(s)
    s.set_defaults(func=run_analytics)


def run_app(args) -> int:
    from ..app import launch

    launch(host=args.host, port=args.port, models=args.models, analytics_db=args.analytics_db,
           precompute=not args.no_precompute)
    return 0


def run_analytics(args) -> int:
    from ..app.analytics import summary, summary_table

    emit(summary(args.db), args.json, summary_table(args.db))
    return 0
