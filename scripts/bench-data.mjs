// Random benchmark data, shared by scripts/bench.mjs and scripts/bench-cloud.mjs.
import { createHash, randomFillSync } from "node:crypto"
import * as fs from "node:fs"

const MiB = 1024 * 1024

/** Write `size` random bytes to `file`; returns their SHA-256 (hex). */
export const writeRandomFile = (file, size) => {
  const fd = fs.openSync(file, "w")
  const hash = createHash("sha256")
  const buf = Buffer.allocUnsafe(Math.min(size, MiB))
  try {
    for (let left = size; left > 0;) {
      const n = Math.min(left, buf.length)
      randomFillSync(buf, 0, n)
      fs.writeSync(fd, buf, 0, n)
      hash.update(buf.subarray(0, n))
      left -= n
    }
  } finally {
    fs.closeSync(fd)
  }
  return hash.digest("hex")
}
