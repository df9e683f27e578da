"""gunicorn settings: a documented alternative to granian (config/granian_conf.py, the default
of `make run`, `make serve` and the image; `SERVER=gunicorn make run` uses this file). Sync
workers by default (DESIGN.md §8: gthread was bimodal there, one worker taking every keep-alive
connection); `manage.py bench --http --worker-class sync,gthread,uvicorn,granian` compares
them (README "Servers, measured")."""

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND") or os.environ.get("BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count()))
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "sync")
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "40"))  # above REQUEST_TIMEOUT (30 s)
graceful_timeout = 20
keepalive = 5
# gunicorn's maximum. The app refuses URLs over MAX_URL_BYTES (4096) itself, with a 414 in the
# error envelope; gunicorn's own (HTML) 414 is left for request lines it cannot even parse.
limit_request_line = 8190
max_requests = 10000  # recycle workers now and then, with jitter so they do not all restart
max_requests_jitter = 1000
accesslog = None  # the structured request log (perf.middleware) replaces the access log
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()


def child_exit(server, worker):
    """Prometheus multiprocess mode: forget the metrics files of a worker that exited."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
