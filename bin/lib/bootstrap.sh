# Shared set-up for bin/run and bin/test: a virtualenv installed from a lock file.
# Sourced, not run; expects to be in the project root.

PYTHON=${PYTHON:-python3}

# ensure_venv LOCKFILE: create .venv and install LOCKFILE into it, once per lock-file content.
ensure_venv() {
  local lock=$1
  local stamp=".venv/.installed-$(basename "$lock")"
  local digest
  digest=$(sha256sum "$lock" | cut -d' ' -f1)
  if [ ! -x .venv/bin/python ]; then
    echo "==> creating .venv"
    "$PYTHON" -m venv .venv
  fi
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$digest" ]; then
    echo "==> installing $lock"
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -r "$lock"
    echo "$digest" > "$stamp"
  fi
}

# ensure_browser: Debian's Chromium and a Korean font for the browser tests' screenshots.
ensure_browser() {
  local missing=()
  command -v chromium >/dev/null || missing+=(chromium)
  dpkg -s fonts-noto-cjk >/dev/null 2>&1 || missing+=(fonts-noto-cjk)
  if [ ${#missing[@]} -gt 0 ]; then
    echo "==> installing ${missing[*]} (apt)"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

# ensure_gettext: GNU gettext, with which the tests make the translation catalog afresh
# and check that every marked word has its translation (tests/aixops/test_translations.py).
ensure_gettext() {
  if ! command -v msgattrib >/dev/null || ! command -v xgettext >/dev/null; then
    echo "==> installing gettext (apt)"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq gettext >/dev/null
  fi
}

# ensure_npm_packages DIR WHAT: DIR's Node packages, installed from its lock file once per
# lock-file content; WHAT names what needs them in the message when Node.js is missing.
ensure_npm_packages() {
  local dir=$1 what=$2
  local stamp="$dir/node_modules/.installed-package-lock"
  local digest
  digest=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    echo "Node.js (>= 20) and npm are needed for $what: apt-get install nodejs npm" >&2
    return 1
  fi
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$digest" ]; then
    echo "==> installing $dir (npm ci)"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error) || return 1
    echo "$digest" > "$stamp"
  fi
}

# ensure_oidc_provider: the dev OpenID provider's Node packages (devtools/oidc-provider).
ensure_oidc_provider() {
  ensure_npm_packages devtools/oidc-provider "the dev OpenID provider"
}

# ensure_hub_proxy: JupyterHub's configurable-http-proxy (devtools/jupyterhub), for the
# local hub of the embedded run and the workspace tests.
ensure_hub_proxy() {
  ensure_npm_packages devtools/jupyterhub "JupyterHub's configurable-http-proxy"
}

# ensure_axe: axe-core (devtools/browser-tests), the accessibility checker the browser
# tests run in each page they open (tests/browser.py).
ensure_axe() {
  ensure_npm_packages devtools/browser-tests "the browser tests' accessibility checker (axe-core)"
}

# broker_namespace DIR: the name an instance whose data is in DIR keeps to on a shared Redis
# (its queue, broker and result keys, scan lock): aixops-<first 10 hex of the SHA-256 of
# DIR's absolute, symlink-free path>, so every spelling of one directory gives one name.
broker_namespace() {
  printf 'aixops-%s\n' "$(realpath -m "$1" | tr -d '\n' | sha256sum | cut -c1-10)"
}

# redis_answers HOST PORT: true when a Redis server answers PING there.
redis_answers() {
  .venv/bin/python - "$1" "$2" <<'PY' 2>/dev/null
import socket, sys
try:
    with socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=1) as sock:
        sock.sendall(b"PING\r\n")
        sys.exit(0 if sock.recv(16).startswith(b"+PONG") else 1)
except OSError:
    sys.exit(1)
PY
}
