#!/usr/bin/env bash
# ./run.sh [serve]         set up (idempotent) and serve on the embedded defaults
# ./run.sh test [ARGS]     set up and run the test suite (ARGS go to pytest)
# ./run.sh worker | create-admin ... | seed-demo    pass through to lms.py
set -euo pipefail
cd "$(dirname "$0")"

# Debian packages: wkhtmltopdf renders certificates; poppler-utils turns their first page into
# the PNG preview (and lets the tests read PDFs back); fonts-noto-core covers Devanagari and most
# other scripts.
debian_packages() {
  local wanted=(wkhtmltopdf poppler-utils fonts-noto-core) missing=()
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

python_env() {
  local python=${PYTHON:-python3}
  [ -x .venv/bin/python ] || "$python" -m venv .venv
  local want have
  want=$(sha256sum requirements.txt | cut -d' ' -f1)
  have=$(cat .venv/.requirements.sha256 2>/dev/null || true)
  if [ "$want" != "$have" ]; then
    .venv/bin/python -m pip install -q --disable-pip-version-check -r requirements.txt
    echo "$want" > .venv/.requirements.sha256
  fi
}

verb=${1:-serve}
[ $# -gt 0 ] && shift
debian_packages "$verb"
python_env
case "$verb" in
  test) exec .venv/bin/python -m pytest "$@" ;;
  *) exec .venv/bin/python lms.py "$verb" "$@" ;;
esac
