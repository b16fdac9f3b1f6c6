"""gunicorn settings for `make serve`.

Overrides: KB_BIND (default 127.0.0.1:8000, loopback only: put nginx in front),
KB_WORKERS (default 2 x CPUs + 1), KB_THREADS (default 2).
Graceful reload (new code or settings, no dropped requests): `kill -HUP <master pid>`;
the master pid is in KB_DATA_DIR/gunicorn.pid when KB_DATA_DIR is set, else instance/;
the control socket (`gunicornc -s`) is gunicorn.ctl next to it.
"""

import multiprocessing
import os

bind = os.environ.get("KB_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("KB_WORKERS", multiprocessing.cpu_count() * 2 + 1))
threads = int(os.environ.get("KB_THREADS", "2"))
worker_class = "gthread"
timeout = 30
graceful_timeout = 20
keepalive = 5
accesslog = "-"
errorlog = "-"
# Client address first: behind a proxy gunicorn logs X-Forwarded-For from trusted hops.
access_log_format = '%({x-forwarded-for}i)s %(h)s "%(r)s" %(s)s %(b)s %(M)sms "%(a)s" pid=%(p)s'
_data_dir = os.environ.get("KB_DATA_DIR", "instance")
pidfile = os.path.join(_data_dir, "gunicorn.pid")
# gunicorn's control socket (for `gunicornc`) defaults to one path per user: several servers
# on one machine would fight over it, so each data dir gets its own.
control_socket = os.path.join(_data_dir, "gunicorn.ctl")
# Recycle workers now and then so a slow leak can never take the site down.
max_requests = 5000
max_requests_jitter = 500


def post_worker_init(worker) -> None:
    """Compile a Flask app's templates before the worker takes its first request.

    Jinja compiles a template on first use: each new worker (every start, reload and
    recycle) otherwise spent its first requests compiling, ~10 ms per template, on the
    clock of the visitors who happened to reach it.  Any app with a Jinja environment
    (``bench/floor_app.py`` too) is treated alike.
    """
    env = getattr(worker.wsgi, "jinja_env", None)
    if env is None:
        return
    for name in env.list_templates():
        try:
            env.get_template(name)
        except Exception as exc:  # a template that cannot compile fails as before, later
            worker.log.warning("template %s not compiled at start: %s", name, exc)
