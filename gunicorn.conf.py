"""gunicorn settings for `make serve`; each can be overridden with GUNICORN_* style env vars."""

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
max_requests = 5000
max_requests_jitter = 500
