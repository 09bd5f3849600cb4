# Packyard on-prem under workerd: the Cloudflare Worker build (dist/worker.mjs, made by
# `npm run build`) serving a data directory through a writable disk service.
#
#   PACKYARD_ADMIN_TOKEN=... npx workerd serve deploy/workerd/packyard.capnp \
#     --directory-path data=/var/lib/packyard --socket-addr http=0.0.0.0:8080
#
# `--directory-path` and `--socket-addr` override the defaults below. The data directory has the
# layout `packyard serve --data` uses, so either host can serve it (one at a time).
#
# workerd fires no cron triggers: run from a timer what wrangler.toml's crons do on Cloudflare,
# `packyard sync --url http://HOST:8080 --token $PACKYARD_ADMIN_TOKEN` every 10 minutes (repositories
# synced from GitHub Releases) and `POST /api/v1/repos/<repo>/gc` daily.
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "packyard", worker = .packyard),
    # Package files, indexes and repository heads. Writes land under a temporary name and are
    # renamed into place, so readers never see half a file.
    (name = "data", disk = (path = "/var/lib/packyard", writable = true)),
    # Where the Worker's own requests go (GitHub, for repositories synced from GitHub Releases).
    # workerd's default reaches public addresses only; "private" adds the site's own network, for a
    # GitHub Enterprise Server on the intranet. Add "local" only if it runs on this very machine.
    (name = "outbound", network = (allow = ["public", "private"])),
  ],
  sockets = [(name = "http", address = "*:8080", http = (), service = "packyard")],
);

const packyard :Workerd.Worker = (
  modules = [(name = "worker.mjs", esModule = embed "../../dist/worker.mjs")],
  compatibilityDate = "2025-09-01",
  globalOutbound = "outbound",
  bindings = [
    (name = "DISK", service = "data"),
    (name = "PUBLISHER", durableObjectNamespace = "PublishCoordinator"),
    # Secrets and settings come from the environment; unset ones stay unbound.
    (name = "PACKYARD_ADMIN_TOKEN", fromEnvironment = "PACKYARD_ADMIN_TOKEN"),
    (name = "PACKYARD_SIGNING_KEY", fromEnvironment = "PACKYARD_SIGNING_KEY"),
    (name = "PACKYARD_SIGNING_KEY_PASSPHRASE", fromEnvironment = "PACKYARD_SIGNING_KEY_PASSPHRASE"),
    (name = "PACKYARD_HEAD_TTL_MS", fromEnvironment = "PACKYARD_HEAD_TTL_MS"),
    (name = "PACKYARD_OIDC_ALLOW_INSECURE", fromEnvironment = "PACKYARD_OIDC_ALLOW_INSECURE"),
    # Set PACKYARD_STORAGE=s3://BUCKET[/PREFIX] to keep the data in an S3-compatible bucket
    # instead of the disk service (shared with `packyard serve --storage` nodes). The S3 server is
    # reached through "outbound": on this very machine, add "local" to its allow list.
    (name = "PACKYARD_STORAGE", fromEnvironment = "PACKYARD_STORAGE"),
    (name = "AWS_ACCESS_KEY_ID", fromEnvironment = "AWS_ACCESS_KEY_ID"),
    (name = "AWS_SECRET_ACCESS_KEY", fromEnvironment = "AWS_SECRET_ACCESS_KEY"),
    (name = "AWS_SESSION_TOKEN", fromEnvironment = "AWS_SESSION_TOKEN"),
    (name = "AWS_REGION", fromEnvironment = "AWS_REGION"),
    (name = "AWS_ENDPOINT_URL", fromEnvironment = "AWS_ENDPOINT_URL"),
  ],
  # The publish coordinators (src/hosts/worker/routing.ts) keep nothing of their own.
  durableObjectNamespaces = [(className = "PublishCoordinator", uniqueKey = "packyard-publish-coordinator")],
  durableObjectStorage = (inMemory = void),
);
