#!/usr/bin/env bash
# apt-install.sh WHO PACKAGE...: installs Debian packages when this runs as root
# on a machine with apt-get; otherwise says what is missing on stderr and exits 1.
# WHO prefixes the messages (the calling script's name).
set -euo pipefail
who="$1"
shift
(($# > 0)) || exit 0
if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null 2>&1; then
  echo "$who: installing $* with apt-get"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
else
  echo "$who: $* missing and cannot be installed here (Debian: apt-get install $*)" >&2
  exit 1
fi
