"""Cadence settings: one module, driven by environment variables (django-environ).

Every variable, with its default, is listed in README.md ("Configuration"). Values that do not
parse fail at start-up. Variables the environment leaves unset are read from
`.data/services.env` when it exists: that file is written by `scripts/devservices.py` and holds
the URLs of the embedded development servers.
"""

from pathlib import Path

import environ
import structlog

from config import __version__

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".data" / "services.env")  # never overrides the environment

DEBUG = env.bool("DEBUG", default=False)
if DEBUG:
    SECRET_KEY = env.str("SECRET_KEY", default="insecure-development-key-change-me-0123456789")
else:
    SECRET_KEY = env.str("SECRET_KEY")  # required in production: no default
APP_NAME = env.str("APP_NAME", default="cadence")
APP_VERSION = __version__
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])

INSTALLED_APPS = [
    "django.contrib.admin",
    # Before django.contrib.auth: its `changepassword` command (which revokes tokens) wins.
    "users",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "corsheaders",
    "ninja",  # serves Swagger UI from local static files (works offline)
    "core",
    "orgs",
    "goals",
    "evaluations",
    "dashboards",
    "live",
    "procrastinate.contrib.django",  # the job queue's tables (migrations), admin and commands
    "jobs",
    "perf",
    "django_prometheus",
]

MIDDLEWARE = [
    # One wrap for all a request reports (perf.middleware): request id, traceparent,
    # Server-Timing, the log line, django-prometheus's and Cadence's metrics. First, so every
    # response, even one made by a later middleware, carries them.
    "perf.middleware.ObservabilityMiddleware",
    # Hardening (core.limits): inside the one above, so 413/504 carry
    # X-Request-ID and Server-Timing; CORS first so refusals still carry CORS headers.
    "corsheaders.middleware.CorsMiddleware",
    "django.middleware.gzip.GZipMiddleware",
    "core.limits.BodySizeLimitMiddleware",
    "core.middleware.ApiErrorEnvelopeMiddleware",
    "core.ratelimit.AnonymousRateLimitMiddleware",
    "core.middleware.HostileInputMiddleware",
    "core.limits.RequestTimeoutMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Browser-only layers (sessions, user, messages): /api/ requests skip them.
    "core.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",  # by name: check --deploy looks for it
    "core.middleware.AuthenticationMiddleware",
    "core.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last: counts a view's exception before the error envelope answers it.
    "perf.middleware.ExceptionMetricsMiddleware",
]

# Tests run a real server on a URLconf with crashing routes (config/tests/urls_crash.py).
ROOT_URLCONF = env.str("ROOT_URLCONF", default="config.urls")
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL")}
DB_POOL = env.bool("DB_POOL", default=True)
DB_POOL_MIN_SIZE = env.int("DB_POOL_MIN_SIZE", default=1)
DB_POOL_MAX_SIZE = env.int("DB_POOL_MAX_SIZE", default=4)
DB_STATEMENT_TIMEOUT_MS = env.int("DB_STATEMENT_TIMEOUT_MS", default=5000)
DB_CONNECT_TIMEOUT = env.int("DB_CONNECT_TIMEOUT", default=3)
# With the database down, a request waits this long for a pooled connection, then gets a 503
# (core.errors): fail fast rather than hold a worker. Separate from DB_CONNECT_TIMEOUT, which
# bounds one connection attempt (made in the pool's background thread).
DB_POOL_TIMEOUT = env.float("DB_POOL_TIMEOUT", default=1.5)
# The pool retries a lost connection with exponential backoff; giving up after a few seconds
# lets the next request start a fresh attempt, so service resumes within seconds of the
# database coming back even after a long outage (not after half of it).
DB_POOL_RECONNECT_TIMEOUT = env.float("DB_POOL_RECONNECT_TIMEOUT", default=5.0)
_db_options = DATABASES["default"].setdefault("OPTIONS", {})
_db_options.setdefault("connect_timeout", DB_CONNECT_TIMEOUT)
DB_PGBOUNCER = env.bool("DB_PGBOUNCER", default=False)
# No query runs unbounded. PgBouncer refuses startup parameters (`options`) and, in transaction
# mode, would share a session SET among clients: behind it the timeout is PgBouncer's own
# `connect_query` on every server connection (README "Scale-out path"; core/tests/pgbouncer.py
# says why not SET LOCAL or a role setting).
if DB_STATEMENT_TIMEOUT_MS and not DB_PGBOUNCER:
    _db_options["options"] = f"-c statement_timeout={DB_STATEMENT_TIMEOUT_MS}"
if DB_POOL:
    # Django's built-in psycopg pool: a new connection per request cost 88 % of throughput
    # (DESIGN.md §8). The pool requires CONN_MAX_AGE = 0.
    _db_options["pool"] = {
        "min_size": DB_POOL_MIN_SIZE,
        "max_size": DB_POOL_MAX_SIZE,
        "timeout": DB_POOL_TIMEOUT,
        "reconnect_timeout": DB_POOL_RECONNECT_TIMEOUT,
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# Django's backend with a pool check that costs no round trip unless the socket has news.
DATABASES["default"]["ENGINE"] = "core.postgresql"
# Lets several test runs share one server (each with its own test database).
if env.str("TEST_DATABASE_NAME", default=""):
    DATABASES["default"]["TEST"] = {"NAME": env.str("TEST_DATABASE_NAME")}
# PgBouncer in transaction mode cannot keep server-side prepared statements or cursors.
if DB_PGBOUNCER:
    _db_options["prepare_threshold"] = None
    DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True
# A streaming read replica (README "Scale-out path"): page and dashboard builds read from it
# once it has replayed the caller's last write (core.replica); all else stays on the primary.
# Same engine, options and pool as the primary; only where it is differs.
DATABASE_REPLICA_URL = env.str("DATABASE_REPLICA_URL", default="")
if DATABASE_REPLICA_URL:
    _replica = env.db_url_config(DATABASE_REPLICA_URL)
    _replica_options = {k: v for k, v in _db_options.items() if k != "host"}
    DATABASES["replica"] = {
        **DATABASES["default"],
        **{key: _replica[key] for key in ("NAME", "USER", "PASSWORD", "HOST", "PORT")},
        "OPTIONS": {**_replica_options, **_replica.get("OPTIONS", {})},
        "TEST": {"MIRROR": "default"},
    }
    DATABASE_ROUTERS = ["core.replica.ReplicaRouter"]

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "users.User"

# --- Cache ----------------------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL")
CACHE_KEY_PREFIX = env.str("CACHE_KEY_PREFIX", default="cadence")
CACHE_SOCKET_TIMEOUT = env.float("CACHE_SOCKET_TIMEOUT", default=0.25)
CACHES = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": CACHE_KEY_PREFIX,
        "OPTIONS": {
            "CLIENT_CLASS": "perf.instrumentation.InstrumentedRedisClient",
            # Counts and times every Redis round trip for Server-Timing and metrics.
            "CONNECTION_POOL_CLASS": "perf.instrumentation.InstrumentedConnectionPool",
            "SOCKET_CONNECT_TIMEOUT": CACHE_SOCKET_TIMEOUT,
            "SOCKET_TIMEOUT": CACHE_SOCKET_TIMEOUT,
            # Redis down = every read a miss: slower, never wrong, never a 500 (DESIGN.md §5).
            "IGNORE_EXCEPTIONS": True,
        },
    }
}
# Redis Cluster (README "Scale-out path"): multi-key commands are split per hash slot
# (core.keyslots). Off on a single Redis, where one MGET for all the request's keys is cheaper.
REDIS_CLUSTER = env.bool("REDIS_CLUSTER", default=False)
DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True
DJANGO_REDIS_LOGGER = "cadence.cache"
# Live rooms over Redis pub/sub (channels-redis); the prefix keeps deployments (and test runs)
# apart on one Redis.
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
        "CONFIG": {"hosts": [REDIS_URL], "prefix": f"{CACHE_KEY_PREFIX}:live"},
    }
}

# --- Auth -----------------------------------------------------------------------------------
JWT_ACCESS_TTL = env.int("JWT_ACCESS_TTL", default=900)
JWT_REFRESH_TTL = env.int("JWT_REFRESH_TTL", default=14 * 24 * 3600)
JWT_SIGNING_KEY = env.str("JWT_SIGNING_KEY", default=SECRET_KEY)
JWT_KEY_ID = env.str("JWT_KEY_ID", default="cadence-1")
JWT_ISSUER = env.str("JWT_ISSUER", default="cadence")
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

# --- HTTP -----------------------------------------------------------------------------------
SERVER_TIMING = env.bool("SERVER_TIMING", default=True)
MAX_BODY_BYTES = env.int("MAX_BODY_BYTES", default=1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_BODY_BYTES
# Path + query string; longer is 414 in the envelope. Below gunicorn's request-line limit
# (8190, config/gunicorn.conf.py), so the answer comes from the app, not gunicorn's HTML page.
MAX_URL_BYTES = env.int("MAX_URL_BYTES", default=4096)
# The change log keeps this many days (`manage.py prune_changes`); older cursors get 410.
CHANGES_RETENTION_DAYS = env.int("CHANGES_RETENTION_DAYS", default=30)

# --- Live updates (live/, DESIGN.md §10): WebSockets on an ASGI server, rooms over Redis ------
ASGI_APPLICATION = "config.asgi.application"
WS_PORT = env.int("WS_PORT", default=8001)
WS_MAX_PER_USER = env.int("WS_MAX_PER_USER", default=5)  # sockets per user per org (4429)
WS_HELLO_SECONDS = env.float("WS_HELLO_SECONDS", default=5.0)  # 4408 after this
WS_PING_SECONDS = env.float("WS_PING_SECONDS", default=25.0)
WS_REVALIDATE_SECONDS = env.float("WS_REVALIDATE_SECONDS", default=1.0)  # logout → 4401
WS_SEND_BUFFER = env.int("WS_SEND_BUFFER", default=1000)  # waiting messages before 4409
# Bytes the OS and the transport hold for one socket before our sends wait (live.consumers).
WS_SOCKET_BUFFER_BYTES = env.int("WS_SOCKET_BUFFER_BYTES", default=65536)
WS_GAP_SECONDS = env.float("WS_GAP_SECONDS", default=1.0)  # a late message: read the log
WS_STALE_SECONDS = env.int("WS_STALE_SECONDS", default=90)  # a socket with no ping stops counting
REQUEST_TIMEOUT = env.float("REQUEST_TIMEOUT", default=30.0)

# --- Jobs and webhooks (jobs/, DESIGN.md §11): a procrastinate queue on this PostgreSQL -------
# The member import's own body limit: `text/csv` up to IMPORT_MAX_BODY_BYTES on its route
# (core.limits; any other body there keeps MAX_BODY_BYTES).
IMPORT_MAX_BODY_BYTES = env.int("IMPORT_MAX_BODY_BYTES", default=10 * 1024 * 1024)
MAX_BODY_BYTES_BY_PATH = [
    (r"/api/org/[^/]+/members/import", "text/csv", IMPORT_MAX_BODY_BYTES),
]
IMPORT_MAX_ROWS = env.int("IMPORT_MAX_ROWS", default=50_000)
IMPORT_BATCH_ROWS = env.int("IMPORT_BATCH_ROWS", default=5_000)  # rows per INSERT (and progress)
IMPORT_THROTTLE_SECONDS = env.float("IMPORT_THROTTLE_SECONDS", default=0.0)  # pause per batch
JOBS_WORKER_CONCURRENCY = env.int("JOBS_WORKER_CONCURRENCY", default=4)  # jobs run at once
JOBS_HEARTBEAT_SECONDS = env.float("JOBS_HEARTBEAT_SECONDS", default=10.0)
# A worker silent this long is gone (killed): its running jobs are retried or failed.
JOBS_STALLED_SECONDS = env.float("JOBS_STALLED_SECONDS", default=30.0)
JOBS_SWEEP_SECONDS = env.float("JOBS_SWEEP_SECONDS", default=5.0)  # the worker's safety net
# A worker also looks for due jobs this often (new ones wake it at once: LISTEN/NOTIFY).
JOBS_POLL_SECONDS = env.float("JOBS_POLL_SECONDS", default=1.0)
JOBS_STATEMENT_TIMEOUT_MS = env.int("JOBS_STATEMENT_TIMEOUT_MS", default=600_000)
# /health reports the queue `down` (service `degraded`) when a job has waited longer.
JOBS_HEALTH_MAX_AGE_SECONDS = env.float("JOBS_HEALTH_MAX_AGE_SECONDS", default=300.0)
WEBHOOKS_ALLOW_LOOPBACK = env.bool("WEBHOOKS_ALLOW_LOOPBACK", default=False)  # dev and tests
WEBHOOKS_TIMEOUT_SECONDS = env.float("WEBHOOKS_TIMEOUT_SECONDS", default=5.0)
WEBHOOKS_RETRY_BASE_SECONDS = env.float("WEBHOOKS_RETRY_BASE_SECONDS", default=10.0)
WEBHOOKS_RETRY_MAX_SECONDS = env.float("WEBHOOKS_RETRY_MAX_SECONDS", default=3600.0)
WEBHOOKS_RETRY_FOR_SECONDS = env.float("WEBHOOKS_RETRY_FOR_SECONDS", default=24 * 3600.0)

# --- Rate limits (core.ratelimit): "count/[n]unit", unit s, m, h or d; "0" turns one off --
RATE_LIMITS_ENABLED = env.bool("RATE_LIMITS_ENABLED", default=True)
RATE_LIMIT_USER = env.str("RATE_LIMIT_USER", default="1200/m")  # per user per org
RATE_LIMIT_ANON = env.str("RATE_LIMIT_ANON", default="120/m")  # per IP, no valid token
RATE_LIMIT_LOGIN_IP = env.str("RATE_LIMIT_LOGIN_IP", default="30/m")
RATE_LIMIT_LOGIN_EMAIL = env.str("RATE_LIMIT_LOGIN_EMAIL", default="10/m")
# Proxies in front of the app that append to X-Forwarded-For (0: use the socket's address).
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)

# --- Transport: CORS and security headers ----------------------------------------------------
CORS_ALLOWED_ORIGINS = env.list("CORS_ALLOWED_ORIGINS", default=[])
CORS_URLS_REGEX = r"^/api/.*$"
CORS_EXPOSE_HEADERS = ["X-Request-ID", "Server-Timing", "Retry-After", "ETag"]
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# TLS usually ends at the load balancer: trust its X-Forwarded-Proto only when told to.
if env.bool("SECURE_PROXY_SSL_HEADER", default=not DEBUG):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
SECURE_REDIRECT_EXEMPT = [r"^health"]  # load-balancer probes speak plain HTTP
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
# "preload" only consents to the browsers' list; nothing is listed until someone submits it.
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SESSION_COOKIE_HTTPONLY = True
# The redirect to HTTPS is the proxy's job by default (SECURE_SSL_REDIRECT=false); the
# deploy check's warning about it is then silenced on purpose. HSTS is still sent.
SILENCED_SYSTEM_CHECKS = env.list(
    "SILENCED_SYSTEM_CHECKS", default=[] if SECURE_SSL_REDIRECT else ["security.W008"]
)

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / ".data" / "static"
WHITENOISE_USE_FINDERS = True  # no collectstatic step needed to serve admin and Swagger UI

# --- Metrics and profiling -------------------------------------------------------------------
# /metrics answers loopback callers, or anyone presenting `Authorization: Bearer METRICS_TOKEN`.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
SILK_ENABLED = env.bool("SILK_ENABLED", default=False)
if SILK_ENABLED:
    INSTALLED_APPS.append("silk")
    MIDDLEWARE.insert(MIDDLEWARE.index("perf.middleware.ObservabilityMiddleware") + 1,
                      "silk.middleware.SilkyMiddleware")  # fmt: skip
    SILKY_AUTHENTICATION = True
    SILKY_AUTHORISATION = True  # staff only (silk's default permission check)
    SILKY_PYTHON_PROFILER = env.bool("SILKY_PYTHON_PROFILER", default=False)
    SILKY_MAX_RECORDED_REQUESTS = 10_000

# --- Logging: one JSON line per request (perf.middleware) -----------------------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO").upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {
            # structlog's formatter, with a one-orjson-call path for the request line.
            "()": "perf.instrumentation.JsonLineFormatter",
            "processor": structlog.processors.JSONRenderer(),
            "foreign_pre_chain": [
                structlog.stdlib.add_log_level,
                structlog.stdlib.add_logger_name,
                structlog.processors.TimeStamper(fmt="iso", utc=True),
            ],
        }
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "json"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.request": {"level": "ERROR"},  # our envelope logs errors once, with context
        "django.server": {"level": "WARNING"},
        "procrastinate": {"level": "WARNING"},  # jobs log their own outcome (cadence.jobs)
    },
}
structlog.configure(
    processors=[
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
    ],
    logger_factory=structlog.stdlib.LoggerFactory(),
    wrapper_class=structlog.stdlib.BoundLogger,
    cache_logger_on_first_use=True,
)
