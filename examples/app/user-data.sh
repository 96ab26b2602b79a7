#!/bin/bash
# User data of the example spec (infra.yaml `compute.user_data`): installs and starts a
# small web service on each instance at first boot. cloud-init runs it as root; `infra
# compile` sets INFRA_PARAMETER_PATH right below the shebang (/<project>/<environment>/),
# where the instance finds its settings in SSM Parameter Store.
#
# What it installs (see README.md beside it):
#   /opt/example-app/app.py   the service: GET /health, GET /
#   /opt/example-app/run      its launcher: reads the settings and the database secret,
#                             then starts app.py; systemd runs it on every (re)start, so
#                             a rotated password is read again
#   /etc/example-app/env      INFRA_PARAMETER_PATH for the launcher
#   example-app.service       systemd unit, started now and at every boot
#
# Tests source this file (nothing runs then) and call write_files with APP_ROOT set to
# a temporary directory.
set -euo pipefail

APP_ROOT="${APP_ROOT:-}"
APP_DIR=/opt/example-app
CONFIG_DIR=/etc/example-app
UNIT=example-app.service
PG8000_VERSION=1.31.6
# Amazon RDS's certificate authorities, every region: the service verifies the database's
# certificate and host name against them.
RDS_CA_URL=https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem

install_packages() {
  mkdir -p "$APP_DIR"
  dnf install -y -q python3 python3-pip
  python3 -m pip install --quiet --target "$APP_DIR/lib" "pg8000==$PG8000_VERSION"
  curl --fail --silent --show-error --retry 5 --output "$APP_DIR/rds-ca.pem" "$RDS_CA_URL"
}

write_files() {
  local app="$APP_ROOT$APP_DIR" config="$APP_ROOT$CONFIG_DIR"
  mkdir -p "$app" "$config" "$APP_ROOT/etc/systemd/system"
  printf 'INFRA_PARAMETER_PATH=%s\n' "${INFRA_PARAMETER_PATH:?set by infra compile}" \
    >"$config/env"
  write_app >"$app/app.py"
  write_launcher >"$app/run"
  chmod 0755 "$app/run"
  write_unit >"$APP_ROOT/etc/systemd/system/$UNIT"
}

start_service() {
  systemctl daemon-reload
  systemctl enable --now "$UNIT"
}

write_launcher() {
  cat <<'LAUNCHER'
#!/bin/bash
# Reads the instance's settings (SSM parameters under $INFRA_PARAMETER_PATH) and the
# database secret (Secrets Manager), then runs app.py with them in its environment.
# The instance role may read exactly these; nothing secret is stored on disk.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
if [[ -z "${AWS_REGION:-}" ]]; then
  token="$(curl -fsS -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 60' \
    http://169.254.169.254/latest/api/token)"
  AWS_REGION="$(curl -fsS -H "X-aws-ec2-metadata-token: $token" \
    http://169.254.169.254/latest/meta-data/placement/region)"
fi
export AWS_REGION
settings="$(aws ssm get-parameters-by-path --path "$INFRA_PARAMETER_PATH" --recursive \
  --query 'Parameters[].[Name,Value]' --output text)"
setting() {
  awk -v name="${INFRA_PARAMETER_PATH}$1" '$1 == name { print $2 }' <<<"$settings"
}
# Asked in the secret's own region (the ARN's fourth field), which is this region: a
# replica region's is its copy of the writer's, which answers while the writer's is down.
secret_arn="$(setting database/secret-arn)"
secret_region="$(cut -d: -f4 <<<"$secret_arn")"
secret="$(aws secretsmanager get-secret-value --region "$secret_region" \
  --secret-id "$secret_arn" --query SecretString --output text)"
field() {
  python3 -c 'import json, sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$secret" "$1"
}
APP_PORT="$(setting app/port)"
APP_REGION="$(setting region)"
DB_HOST="$(setting database/host)"
DB_PORT="$(setting database/port)"
DB_NAME="$(setting database/name)"
DB_ROLE="$(setting database/role)"
DB_USER="$(field username)"
DB_PASSWORD="$(field password)"
DB_CA_FILE="${DB_CA_FILE:-$here/rds-ca.pem}"
PYTHONPATH="$here/lib"
export APP_PORT APP_REGION DB_HOST DB_PORT DB_NAME DB_ROLE DB_USER DB_PASSWORD DB_CA_FILE PYTHONPATH
exec python3 "$here/app.py"
LAUNCHER
}

write_unit() {
  cat <<UNIT_FILE
[Unit]
Description=Example web service (examples/app)
Wants=network-online.target
After=network-online.target

[Service]
EnvironmentFile=$CONFIG_DIR/env
ExecStart=$APP_DIR/run
# app.py exits when the database refuses the password (RDS rotated it): the restart
# reads the secret again.
Restart=always
RestartSec=5
DynamicUser=yes
AmbientCapabilities=CAP_NET_BIND_SERVICE
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
Environment=HOME=/tmp

[Install]
WantedBy=multi-user.target
UNIT_FILE
}

write_app() {
  cat <<'APP'
"""Example web service: stdlib HTTP server and pg8000 (pure Python PostgreSQL driver).

GET /health  200 only when the database answers over TLS (certificate and host name
             verified against $DB_CA_FILE); 503 otherwise. The load balancer's check.
GET /        the region, and whether the database is the writer (pg_is_in_recovery()).

Settings come from the environment (the launcher sets them): APP_PORT, APP_REGION,
DB_HOST, DB_PORT, DB_NAME, DB_USER, DB_PASSWORD, DB_CA_FILE, DB_ROLE.
"""

import html
import os
import ssl
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pg8000.native

# Under the target group's 5 s check timeout, so a slow database answers 503, not silence.
CONNECT_TIMEOUT_S = 3
# PostgreSQL's SQLSTATE for a wrong password: the secret was rotated since we read it.
INVALID_PASSWORD = "28P01"
EXIT_REREAD_SECRET = 75


class DatabaseUnavailable(Exception):
    pass


def query(sql):
    """Run one statement on a fresh TLS connection; the first column of the first row."""
    context = ssl.create_default_context(cafile=os.environ["DB_CA_FILE"])
    try:
        connection = pg8000.native.Connection(
            user=os.environ["DB_USER"],
            password=os.environ["DB_PASSWORD"],
            host=os.environ["DB_HOST"],
            port=int(os.environ["DB_PORT"]),
            database=os.environ["DB_NAME"],
            ssl_context=context,
            timeout=CONNECT_TIMEOUT_S,
        )
    except pg8000.native.DatabaseError as error:
        if error.args and isinstance(error.args[0], dict):
            if error.args[0].get("C") == INVALID_PASSWORD:
                reread_secret()
        raise DatabaseUnavailable(str(error)) from None
    except (pg8000.native.InterfaceError, OSError, ssl.SSLError) as error:
        raise DatabaseUnavailable(str(error)) from None
    try:
        return connection.run(sql)[0][0]
    finally:
        connection.close()


def reread_secret():
    # Exit after the current response; systemd restarts the launcher, which reads the
    # secret again.
    print("database refused the password; exiting to read the secret again", file=sys.stderr)
    threading.Timer(0.5, os._exit, args=(EXIT_REREAD_SECRET,)).start()


class Handler(BaseHTTPRequestHandler):
    server_version = "example-app"

    def do_GET(self):
        if self.path == "/health":
            self.health()
        elif self.path == "/":
            self.index()
        else:
            self.reply(404, "text/plain", "not found\n")

    def health(self):
        try:
            query("SELECT 1")
        except DatabaseUnavailable as error:
            self.reply(503, "text/plain", f"database unavailable: {error}\n")
            return
        self.reply(200, "text/plain", "ok\n")

    def index(self):
        region = html.escape(os.environ.get("APP_REGION", "unknown"))
        configured = html.escape(os.environ.get("DB_ROLE", "unknown"))
        try:
            in_recovery = query("SELECT pg_is_in_recovery()")
        except DatabaseUnavailable:
            status, role = 503, "unreachable"
        else:
            status, role = 200, "replica" if in_recovery else "writer"
        body = (
            "<!doctype html><title>example-app</title>"
            f"<p>Region: <b id='region'>{region}</b></p>"
            f"<p>Database: <b id='database'>{role}</b> (configured: {configured})</p>\n"
        )
        self.reply(status, "text/html; charset=utf-8", body)

    def reply(self, status, content_type, body):
        data = body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format, *args):
        pass  # the load balancer checks every few seconds; its access logs keep requests


def main():
    port = int(os.environ.get("APP_PORT", "80"))
    server = ThreadingHTTPServer(("", port), Handler)
    print(f"listening on port {port}", file=sys.stderr, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
APP
}

main() {
  install_packages
  write_files
  start_service
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  main "$@"
fi
