# Cadence production image: slim, non-root, granian serving the WSGI entry point, the fastest
# server measured (README "Servers, measured"; DESIGN.md §8). gunicorn remains an option:
#   docker run … IMAGE gunicorn config.wsgi:application -c config/gunicorn.conf.py
FROM python:3.11-slim AS base

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY requirements/base.txt requirements/base.txt
RUN pip install -r requirements/base.txt

COPY . .
# Static files (admin, Swagger UI) are collected at build time and served by WhiteNoise.
RUN DEBUG=true DATABASE_URL=postgres://build@localhost/build REDIS_URL=redis://localhost:6379/0 \
        python manage.py collectstatic --no-input \
    && useradd --system --uid 10001 --home /app cadence \
    && mkdir -p /tmp/prometheus && chown cadence /tmp/prometheus

USER cadence
# BIND: both config/granian_conf.py and config/gunicorn.conf.py read it; WEB_CONCURRENCY
# sets the workers (default: CPU count).
ENV BIND=0.0.0.0:8000 \
    PROMETHEUS_MULTIPROC_DIR=/tmp/prometheus
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health/live', timeout=2)"
CMD ["python", "-m", "config.granian_conf", "config.wsgi:application"]
