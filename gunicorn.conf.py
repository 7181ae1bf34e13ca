"""Gunicorn settings for ``make serve`` and the systemd unit in docs/deploy.md.

Everything comes from the environment (the same variables on every app server):

``GUNICORN_WORKERS`` (2), ``GUNICORN_THREADS`` (2), ``BIND`` (127.0.0.1:5000), ``GUNICORN_TIMEOUT`` (60 s),
``GUNICORN_MAX_REQUESTS`` (2000), ``FORWARDED_ALLOW_IPS`` (127.0.0.1,::1). The app itself reads
``DATABASE_URL``, ``SECRET_KEY``, ``RATELIMIT_STORAGE_URI``, ... (README).
"""

from __future__ import annotations

import gc
import os

bind = os.environ.get("BIND", "127.0.0.1:5000")
# Processes x threads: a worker's threads share its database pool (SQLAlchemy's default: 5 + 10 overflow).
# The app is CPU-bound: 1, 2 and 4 threads held the same requests per second in the load test, while 4
# threads (slips rendered side by side) took a worker past 200 MB; 2 lets a slow PDF not block a worker.
workers = int(os.environ.get("GUNICORN_WORKERS", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "2"))
worker_class = "gthread"
# A flight's referral slips (one PDF of ~60 pages) take about 3 s; 60 s leaves room on a loaded machine.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = 30
keepalive = 5
# Recycle workers now and then (WeasyPrint's memory), at different moments so they never restart together.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "2000"))
max_requests_jitter = max_requests // 10

# Import the app once in the master: start-up errors stop the server at once, workers share the code pages
# and all of them read the same settings. An upgrade is a restart (systemctl restart), not a HUP.
preload_app = True

# Logs to stderr (journald under systemd). The access log has the path without the query string (%(U)s),
# never the query, the referrer or the user agent: no personal data in logs.
accesslog = "-"
errorlog = "-"
access_log_format = '%(h)s %(t)s "%(m)s %(U)s" %(s)s %(b)s %(L)s'
# Where the proxy connects from: nginx on this machine, or its private address when it is on another one.
# (The client address for rate limits and the audit trail is the app's business: ProxyFix, PROXY_COUNT.)
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
# Gunicorn >= 24 opens a control socket in $HOME by default; systemd's signals are all this service needs.
control_socket_disable = True


def on_starting(server) -> None:
    if not os.environ.get("DATABASE_URL"):
        server.log.warning(
            "DATABASE_URL is not set: serving the embedded SQLite database (instance/sosep.sqlite3). "
            "Production uses PostgreSQL: see docs/deploy.md."
        )
    if workers > 1 and os.environ.get("RATELIMIT_STORAGE_URI", "memory://").startswith("memory://"):
        server.log.warning(
            "RATELIMIT_STORAGE_URI is memory://: each of the %d workers counts login attempts on its own. "
            "Use redis://... (docs/deploy.md).",
            workers,
        )


def post_fork(server, worker) -> None:
    # preload_app: a connection opened in the master must not be shared by the forked workers.
    from sosep_migrantes.extensions import db
    from wsgi import app

    with app.app_context():
        for engine in db.engines.values():
            engine.dispose(close=False)
    # What the app loaded (Flask, SQLAlchemy's mappers, the templates, the catalogues' code: about 230,000
    # objects) lives as long as the worker: kept out of the cyclic collector's full passes, which otherwise
    # walk all of it now and then in the middle of a request (100-130 ms pauses measured on the case page),
    # and not written to by them, so the pages shared with the master stay shared.
    gc.freeze()
