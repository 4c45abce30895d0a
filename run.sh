#!/usr/bin/env bash
# ./run.sh [serve]         set up (idempotent) and serve on the embedded defaults
# ./run.sh test [ARGS]     set up and run the test suite (ARGS go to pytest)
# ./run.sh worker | create-admin ... | seed-demo    pass through to lms.py
set -euo pipefail
cd "$(dirname "$0")"

# Debian packages: wkhtmltopdf renders certificates; poppler-utils turns their first page into
# the PNG preview (and lets the tests read PDFs back); fonts-noto-core covers Devanagari and most
# other scripts. The tests also drive Chromium (a browser on another host name) and need npm for
# their TypeScript and browser tools (any Node.js already installed is kept).
debian_packages() {
  local wanted=(wkhtmltopdf poppler-utils fonts-noto-core) missing=()
  if [ "${1:-}" = test ]; then
    wanted+=(chromium)
    command -v npm >/dev/null || wanted+=(npm)
  fi
  for pkg in "${wanted[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "run.sh: installing ${missing[*]}" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "run.sh: please install the Debian packages: sudo apt-get install ${missing[*]}" >&2
    echo "run.sh: (certificates will not render until then)" >&2
  fi
}

# The tests also need the optional extras (Sentry reporting is tested against a local double).
python_env() {
  local python=${PYTHON:-python3}
  [ -x .venv/bin/python ] || "$python" -m venv .venv
  local files=(requirements.txt) file stamp want
  [ "${1:-}" = test ] && files+=(requirements-sentry.txt)
  for file in "${files[@]}"; do
    stamp=.venv/.${file%.txt}.sha256
    want=$(sha256sum "$file" | cut -d' ' -f1)
    if [ "$want" != "$(cat "$stamp" 2>/dev/null || true)" ]; then
      .venv/bin/python -m pip install -q --disable-pip-version-check -r "$file"
      echo "$want" > "$stamp"
    fi
  done
}

# npm packages for the tests: the typed-client check compiles a TypeScript client generated from
# the API description (tests/web/test_openapi.py skips it, saying so, where npm is missing).
node_packages() {
  local dir=tests/web/node want have
  if ! command -v npm >/dev/null; then
    echo "run.sh: npm not found: the TypeScript client check will be skipped" >&2
    return 0
  fi
  want=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)
  have=$(cat "$dir/node_modules/.package-lock.sha256" 2>/dev/null || true)
  if [ "$want" != "$have" ]; then
    npm ci --prefix "$dir" --no-audit --no-fund --silent
    echo "$want" > "$dir/node_modules/.package-lock.sha256"
  fi
}

verb=${1:-serve}
[ $# -gt 0 ] && shift
debian_packages "$verb"
python_env "$verb"
[ "$verb" = test ] && node_packages
case "$verb" in
  test) exec .venv/bin/python -m pytest "$@" ;;
  *) exec .venv/bin/python lms.py "$verb" "$@" ;;
esac
