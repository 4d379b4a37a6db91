#!/usr/bin/env bash
# Installs what `npm run bench` compares relpub with, on a fresh machine:
# openssl (the local floor), GNU time (peak RSS), rclone and the AWS CLI (the
# S3 yardsticks), all Debian packages, and the test servers (SeaweedFS).
# Idempotent: installs only what is missing.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

packages=()
command -v openssl >/dev/null 2>&1 || packages+=(openssl)
[[ -x /usr/bin/time ]] || packages+=(time)
command -v rclone >/dev/null 2>&1 || packages+=(rclone)
[[ -x /usr/bin/aws ]] || packages+=(awscli)
if ((${#packages[@]} > 0)); then
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null 2>&1; then
    echo "bench-deps: installing ${packages[*]} with apt-get"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${packages[@]}" >/dev/null
  else
    echo "bench-deps: ${packages[*]} missing; install them (Debian: apt-get install ${packages[*]})" >&2
    exit 1
  fi
fi
bash "$root/scripts/servers/install.sh"
