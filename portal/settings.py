"""Airdock settings: one file, every value from the environment, safe local defaults.

Defaults give a working local portal (SQLite, file-system storage, Redis on localhost). For
production see the README's "Production settings" section.
"""
import shlex
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(environ.Env().str("AIRDOCK_VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)  # the SQLite file, archives and local bundles live here

env = environ.Env()

DEBUG = env.bool("DJANGO_DEBUG", default=True)
# Only the local default may be this insecure; `check --deploy` rejects it in production.
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="django-insecure-airdock-local-development-only")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "django_rq",
    "axes",  # sign-in attempts: locked out after AXES_FAILURE_LIMIT failures
    "ninja",  # serves the API documentation's Swagger UI from static files, not a CDN
    "tenancy",
    "deployments",
    "runtime",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "deployments.middleware.UploadSizeLimitMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
]
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]

ROOT_URLCONF = "portal.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "tenancy.context_processors.navigation",
            ],
        },
    },
]
WSGI_APPLICATION = None
ASGI_APPLICATION = "portal.asgi.application"

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web process and RQ workers write at once; wait for the lock instead of failing.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}
    )
    # Tests use a file, not memory: a live server's threads (the runtime's agents report while a
    # test deploys) then get connections of their own instead of sharing the test's one.
    DATABASES["default"].setdefault("TEST", {}).setdefault("NAME", str(VAR_DIR / "test-db.sqlite3"))
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", 60)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
# Rate limits. Sign-in: a user name from one address is locked out after 5 failures for 15 minutes.
AXES_FAILURE_LIMIT = env.int("AIRDOCK_SIGNIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("AIRDOCK_SIGNIN_COOLOFF_HOURS", default=0.25)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
# The API: bad tokens per address, and deploy requests per token (the cache below counts them).
AIRDOCK_API_AUTH_FAILURES_PER_MINUTE = env.int("AIRDOCK_API_AUTH_FAILURES_PER_MINUTE", default=20)
AIRDOCK_API_DEPLOYS_PER_MINUTE = env.int("AIRDOCK_API_DEPLOYS_PER_MINUTE", default=30)
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "static"
MEDIA_ROOT = VAR_DIR / "media"

# Storage: uploaded project archives ("default") stay private on the portal's disk; DAG bundles
# ("bundles") go to the file system by default or to S3 when AIRDOCK_BUNDLE_STORAGE=s3.
# Credentials of the local services `make services` starts are read from its secrets folder (root
# only); in production give REDIS_URL, AIRDOCK_REGISTRY_USERNAME/PASSWORD, ... from the environment.
SERVICES_SECRETS = Path(env.str("AIRDOCK_SERVICES_DIR", default=str(BASE_DIR / "var" / "services"))) / "secrets"


def _secret(name: str) -> str:
    try:
        return (SERVICES_SECRETS / name).read_text().strip()
    except OSError:
        return ""


_redis_password = _secret("redis.password")
# Secrets stored in the database (git URLs with tokens, deploy keys, webhook secrets) are encrypted
# with a key derived from SECRET_KEY and this salt; a list rotates (the first encrypts).
# Values written before the key existed (the development default) stay readable.
SALT_KEY = [*(env.list("AIRDOCK_FIELD_KEY", default=[]) or [_secret("field.key")]), "airdock-development-only-field-key"]
SALT_KEY = [key for key in SALT_KEY if key]
REDIS_URL = env.str(
    "REDIS_URL", default=f"redis://{':' + _redis_password + '@' if _redis_password else ''}127.0.0.1:6379/0"
)
BUNDLE_STORAGE = env.str("AIRDOCK_BUNDLE_STORAGE", default="filesystem")
S3_OPTIONS = {
    "bucket_name": env.str("AIRDOCK_S3_BUCKET", default="airdock-bundles"),
    "endpoint_url": env.str("AIRDOCK_S3_ENDPOINT_URL", default="") or None,
    "region_name": env.str("AIRDOCK_S3_REGION", default="us-east-1"),
    "access_key": env.str("AWS_ACCESS_KEY_ID", default="") or None,
    "secret_key": env.str("AWS_SECRET_ACCESS_KEY", default="") or None,
    "file_overwrite": False,
    "default_acl": None,
    "querystring_auth": True,
}
STORAGES = {
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": VAR_DIR / "archives"},
    },
    "bundles": (
        {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": S3_OPTIONS}
        if BUNDLE_STORAGE == "s3"
        else {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": VAR_DIR / "bundles"},
        }
    ),
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
RQ_QUEUES = {
    "default": {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 3600},
    "deploys": {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 3600},
    "notifications": {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 60},
}
RQ = {"WORKER_CLASS": "portal.worker.Worker"}  # RQ's, with the object stores' clients made before it forks
# A running deploy's worker renews its lease every AIRDOCK_DEPLOY_HEARTBEAT_SECONDS; the reaper
# fails a deploy whose lease is older than AIRDOCK_DEPLOY_LEASE_SECONDS ("worker lost").
AIRDOCK_DEPLOY_HEARTBEAT_SECONDS = env.float("AIRDOCK_DEPLOY_HEARTBEAT_SECONDS", default=10)
AIRDOCK_DEPLOY_LEASE_SECONDS = env.int("AIRDOCK_DEPLOY_LEASE_SECONDS", default=45)
# At most this many deploys of one organization run at once (0: no limit); the others wait QUEUED,
# put back at the end of the queue every AIRDOCK_ORG_DEFER_SECONDS, so one tenant never takes every worker.
AIRDOCK_ORG_CONCURRENT_DEPLOYS = env.int("AIRDOCK_ORG_CONCURRENT_DEPLOYS", default=2)
AIRDOCK_ORG_DEFER_SECONDS = env.float("AIRDOCK_ORG_DEFER_SECONDS", default=1.0)
# Notifications may go to this machine's own addresses (a local receiver; off in production).
AIRDOCK_NOTIFY_ALLOW_LOOPBACK = env.bool("AIRDOCK_NOTIFY_ALLOW_LOOPBACK", default=False)
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        # channels-redis waits for a socket's next message with a 5-second BZPOPMIN; redis-py's own
        # read timeout is 5 s too, and an idle page's socket lost that race (closed with 1011).
        "CONFIG": {"hosts": [{"address": REDIS_URL, "socket_timeout": 30, "socket_connect_timeout": 5}]},
    }
}

# Docker engine, registry and runtime images.
AIRDOCK_DOCKER_URL = env.str("AIRDOCK_DOCKER_URL", default="") or None  # None: DOCKER_HOST or the socket
AIRDOCK_REGISTRY = env.str("AIRDOCK_REGISTRY", default="127.0.0.1:5000")
AIRDOCK_REGISTRY_PASSWORD = env.str("AIRDOCK_REGISTRY_PASSWORD", default="") or _secret("registry.password")
AIRDOCK_REGISTRY_USERNAME = env.str("AIRDOCK_REGISTRY_USERNAME", default="airdock" if AIRDOCK_REGISTRY_PASSWORD else "")
AIRDOCK_REGISTRY_INSECURE = env.bool("AIRDOCK_REGISTRY_INSECURE", default=True)
# Retention (manage.py airdock_prune, and hourly by the reaper `make run` starts): a deploy that ended
# more than AIRDOCK_RETENTION_DAYS ago and is not among its deployment's last
# AIRDOCK_RETENTION_KEEP_DEPLOYS successful ones loses its log and uploaded archive, and the image (in
# the engine and the registry) and DAG bundle that no kept deploy, and nothing running, uses.
AIRDOCK_RETENTION_DAYS = env.int("AIRDOCK_RETENTION_DAYS", default=30)
AIRDOCK_RETENTION_KEEP_DEPLOYS = env.int("AIRDOCK_RETENTION_KEEP_DEPLOYS", default=10)
AIRDOCK_PRUNE_EVERY_SECONDS = env.int("AIRDOCK_PRUNE_EVERY_SECONDS", default=3600)
# The registry's garbage collection, run after a prune deleted images (empty: none; a registry of
# your own collects its garbage itself). By default that of the registry `make services` runs.
_REGISTRY_CONFIG = SERVICES_SECRETS.parent / "registry.yml"
AIRDOCK_REGISTRY_GC_COMMAND = shlex.split(env.str(
    "AIRDOCK_REGISTRY_GC_COMMAND",
    default=shlex.join(["docker-registry", "garbage-collect", str(_REGISTRY_CONFIG)]) if _REGISTRY_CONFIG.exists() else ""))

# Astro Runtime images: each Runtime version a Dockerfile names resolves to a local image of that
# version (AIRDOCK_RUNTIME_IMAGE:<version>), built on first use from the shared base image and the
# table of Runtime versions (what each ships). Unused ones beyond the newest KEEP are pruned.
AIRDOCK_RUNTIME_IMAGE = env.str("AIRDOCK_RUNTIME_IMAGE", default="airdock/runtime")
AIRDOCK_RUNTIME_BASE_IMAGE = env.str("AIRDOCK_RUNTIME_BASE_IMAGE", default="airdock/runtime-base:bookworm")
AIRDOCK_RUNTIME_VERSIONS_FILE = env.str(
    "AIRDOCK_RUNTIME_VERSIONS_FILE", default=str(BASE_DIR / "images" / "runtime" / "versions.json")
)
AIRDOCK_RUNTIME_CONTEXT = BASE_DIR / "images" / "runtime"
AIRDOCK_RUNTIME_IMAGES_KEEP = env.int("AIRDOCK_RUNTIME_IMAGES_KEEP", default=6)
AIRDOCK_RUNTIME_BUILD_TIMEOUT = env.int("AIRDOCK_RUNTIME_BUILD_TIMEOUT", default=1800)
# Where the packages of Runtime images are cached between builds (wheels, resolved locks).
# The data plane (Docker Swarm): each deployment's database and broker image, the URL its
# components' agents reach the portal at (default: this machine on the swarm's gateway bridge, at
# AIRDOCK_PORT), how often every deployment is reconciled, and how long a component may be
# starting or behind before the deployment is UNHEALTHY.
AIRDOCK_RUNTIME_NAME_PREFIX = env.str("AIRDOCK_RUNTIME_NAME_PREFIX", default="airdock")  # of Swarm objects
AIRDOCK_RUNTIME_SERVICES_IMAGE = env.str("AIRDOCK_RUNTIME_SERVICES_IMAGE", default="airdock/services:bookworm")
AIRDOCK_RUNTIME_PORTAL_URL = env.str("AIRDOCK_RUNTIME_PORTAL_URL", default="")
AIRDOCK_PORT = env.int("AIRDOCK_PORT", default=8000)
# The portal's address as users' browsers reach it: Airflow's UI is served under it
# (<AIRDOCK_PUBLIC_URL>/deployments/<id>/airflow/), and Airflow writes its links with it.
AIRDOCK_PUBLIC_URL = env.str("AIRDOCK_PUBLIC_URL", default=f"http://127.0.0.1:{AIRDOCK_PORT}")
AIRDOCK_RUNTIME_RECONCILE_EVERY = env.int("AIRDOCK_RUNTIME_RECONCILE_EVERY", default=60)
AIRDOCK_RUNTIME_HEARTBEAT_TIMEOUT = env.int("AIRDOCK_RUNTIME_HEARTBEAT_TIMEOUT", default=90)
AIRDOCK_RUNTIME_ROLLOUT_DEADLINE = env.int("AIRDOCK_RUNTIME_ROLLOUT_DEADLINE", default=600)
AIRDOCK_RUNTIME_MIGRATE_TIMEOUT = env.int("AIRDOCK_RUNTIME_MIGRATE_TIMEOUT", default=600)
# Of each component's CPU and memory limits, the share Swarm reserves (places it only where that is free).
AIRDOCK_RUNTIME_RESERVE = env.float("AIRDOCK_RUNTIME_RESERVE", default=0.1)
# The database and broker of each deployment: CPU cores and MiB.
AIRDOCK_RUNTIME_DATA_RESOURCES = {"cpu": env.float("AIRDOCK_RUNTIME_DATA_CPU", default=1.0),
                                  "memory": env.int("AIRDOCK_RUNTIME_DATA_MEMORY", default=1024)}
# Worker autoscaling: a queue scales up at once to what its backlog needs, and down only after it
# has needed fewer workers for this many seconds.
AIRDOCK_AUTOSCALE_COOLDOWN = env.int("AIRDOCK_AUTOSCALE_COOLDOWN", default=300)
# A component whose processes ran out of memory is reported UNHEALTHY for this long afterwards.
AIRDOCK_RUNTIME_OOM_WINDOW = env.int("AIRDOCK_RUNTIME_OOM_WINDOW", default=600)
# The components' logs kept in the portal (searchable, live on the logs page): how long, and at most
# how many lines per deployment.
AIRDOCK_COMPONENT_LOG_RETENTION_HOURS = env.int("AIRDOCK_COMPONENT_LOG_RETENTION_HOURS", default=72)
AIRDOCK_COMPONENT_LOG_MAX_LINES = env.int("AIRDOCK_COMPONENT_LOG_MAX_LINES", default=200_000)
AIRDOCK_RUNTIME_CACHE_DIR = Path(env.str("AIRDOCK_RUNTIME_CACHE_DIR", default=str(VAR_DIR / "runtime-cache")))
AIRDOCK_BUILD_PLATFORMS = env.list("AIRDOCK_BUILD_PLATFORMS", default=["linux/amd64"])
# Prebuilt images a deploy may name besides the deployment's own repository (shell-style patterns,
# e.g. "registry.example.com/data-platform/*"); none by default.
AIRDOCK_PREBUILT_IMAGES_ALLOWED = env.list("AIRDOCK_PREBUILT_IMAGES_ALLOWED", default=[])
# Images a Dockerfile's FROM / COPY --from may name besides Astro Runtime images and its own stages.
AIRDOCK_BASE_IMAGES_ALLOWED = env.list("AIRDOCK_BASE_IMAGES_ALLOWED", default=[])

# Deploy limits.
AIRDOCK_ARCHIVE_MAX_BYTES = env.int("AIRDOCK_ARCHIVE_MAX_BYTES", default=200 * 1024 * 1024)
AIRDOCK_ARCHIVE_MAX_ENTRIES = env.int("AIRDOCK_ARCHIVE_MAX_ENTRIES", default=20_000)
AIRDOCK_ARCHIVE_MAX_UNPACKED_BYTES = env.int("AIRDOCK_ARCHIVE_MAX_UNPACKED_BYTES", default=1024 * 1024 * 1024)
AIRDOCK_ARCHIVE_MAX_RATIO = env.int("AIRDOCK_ARCHIVE_MAX_RATIO", default=200)
# A request body larger than this is refused before it is read (an archive, or a folder picked in
# the browser, plus the form around it).
AIRDOCK_UPLOAD_MAX_BYTES = env.int(
    "AIRDOCK_UPLOAD_MAX_BYTES", default=max(AIRDOCK_ARCHIVE_MAX_BYTES, AIRDOCK_ARCHIVE_MAX_UNPACKED_BYTES) + 1024 * 1024
)
AIRDOCK_BUILD_TIMEOUT = env.int("AIRDOCK_BUILD_TIMEOUT", default=1800)
# Builds need a network for packages.txt / requirements.txt: a bridge (or another user-defined
# network) that reaches the package indexes through NAT and none of Airdock's own services. The
# host network would hand a tenant's RUN step every loopback service, so it is refused.
AIRDOCK_BUILD_NETWORK = env.str("AIRDOCK_BUILD_NETWORK", default="bridge")
if AIRDOCK_BUILD_NETWORK == "host":
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured("AIRDOCK_BUILD_NETWORK=host would let tenant builds reach Airdock's own services; use a bridge network.")
AIRDOCK_BUILD_MEMORY = env.int("AIRDOCK_BUILD_MEMORY", default=4 * 1024**3)
# Time limit of the requirements.txt install inside a build (a build argument of the runtime images).
AIRDOCK_REQUIREMENTS_TIMEOUT = env.int("AIRDOCK_REQUIREMENTS_TIMEOUT", default=900)
AIRDOCK_CHECK_TIMEOUT = env.int("AIRDOCK_CHECK_TIMEOUT", default=600)
AIRDOCK_CHECK_MEMORY = env.int("AIRDOCK_CHECK_MEMORY", default=2 * 1024**3)
# Check containers (DAG parse, pytest) run tenant code: these bound what it may use.
# The engine runtime for check containers ("" = the engine's default; "runsc" for gVisor).
AIRDOCK_CHECK_RUNTIME = env.str("AIRDOCK_CHECK_RUNTIME", default="")
AIRDOCK_CHECK_PIDS = env.int("AIRDOCK_CHECK_PIDS", default=512)
AIRDOCK_CHECK_CPUS = env.float("AIRDOCK_CHECK_CPUS", default=1.0)
AIRDOCK_CHECK_TMPFS_MB = env.int("AIRDOCK_CHECK_TMPFS_MB", default=512)
AIRDOCK_CHECK_FETCH_MAX_BYTES = env.int("AIRDOCK_CHECK_FETCH_MAX_BYTES", default=16 * 1024 * 1024)
AIRDOCK_PUSH_TIMEOUT = env.int("AIRDOCK_PUSH_TIMEOUT", default=1800)
# The image push and the DAG bundle upload are tried this many times, waiting these seconds between.
AIRDOCK_TRANSFER_ATTEMPTS = env.int("AIRDOCK_TRANSFER_ATTEMPTS", default=3)
AIRDOCK_TRANSFER_RETRY_DELAYS = [float(x) for x in env.list("AIRDOCK_TRANSFER_RETRY_DELAYS", default=["3", "10"])]
AIRDOCK_DEPLOY_JOB_TIMEOUT = env.int("AIRDOCK_DEPLOY_JOB_TIMEOUT", default=4 * 3600)
AIRDOCK_GIT_ALLOWED_SCHEMES = env.list("AIRDOCK_GIT_ALLOWED_SCHEMES", default=["https", "ssh", "git"])
AIRDOCK_GIT_TIMEOUT = env.int("AIRDOCK_GIT_TIMEOUT", default=120)
DATA_UPLOAD_MAX_NUMBER_FILES = env.int("DJANGO_DATA_UPLOAD_MAX_NUMBER_FILES", default=5000)
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024

# Security: strict whenever DEBUG is off; each value can still be set from the environment.
SECURE = not DEBUG
SESSION_COOKIE_SECURE = env.bool("DJANGO_SESSION_COOKIE_SECURE", default=SECURE)
CSRF_COOKIE_SECURE = env.bool("DJANGO_CSRF_COOKIE_SECURE", default=SECURE)
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=SECURE)
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=31536000 if SECURE else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", default=SECURE)
SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=False)
if env.bool("DJANGO_BEHIND_TLS_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("AIRDOCK_LOG_LEVEL", default="INFO")},
}
