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
bash "$root/scripts/apt-install.sh" bench-deps "${packages[@]}"
bash "$root/scripts/servers/install.sh"
