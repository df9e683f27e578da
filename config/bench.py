"""The entry points `manage.py bench --http` serves (perf.bench.servers): the project's own
WSGI and ASGI applications, unchanged, plus `/bench/bare`, a Django view with no middleware
in the same server processes (perf.bench.bare; DESIGN.md §6)."""

from config.asgi import application as project_asgi
from config.wsgi import application as project_wsgi
from perf.bench.bare import with_bare_asgi, with_bare_wsgi

wsgi_application = with_bare_wsgi(project_wsgi)
asgi_application = with_bare_asgi(project_asgi)
