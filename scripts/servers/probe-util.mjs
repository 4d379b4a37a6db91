// Shared pieces of the conditional-write probes: outcome capture, races and
// result rows.
import { randomBytes } from "node:crypto"

export const RACERS = 16
export const OP_TIMEOUT_MS = 20_000

export const uniquePrefix = () => `probe-${Date.now()}-${randomBytes(4).toString("hex")}/`

// Runs `fn` and reduces its result to a short label such as "200",
// "412 PreconditionFailed" or "error ECONNRESET". `statusOf(err)` extracts
// [status, code] from a backend's error type.
export async function outcome(fn, statusOf, okLabel = "200") {
  try {
    const value = await fn()
    return { ok: true, label: okLabel, value }
  } catch (err) {
    const [status, code] = statusOf(err)
    const label = status ? `${status}${code ? ` ${code}` : ""}` : `error ${code ?? err.message}`
    return { ok: false, label, status, error: err }
  }
}

// Tally of labels, e.g. "200×1, 412 PreconditionFailed×15".
export function tally(results) {
  const counts = new Map()
  for (const r of results) counts.set(r.label, (counts.get(r.label) ?? 0) + 1)
  return [...counts].sort(([a], [b]) => (a < b ? -1 : 1)).map(([label, n]) => `${label}×${n}`).join(", ")
}

// RACE_ROUNDS rounds of RACERS concurrent writers. `prepare(round)` sets up a
// fresh object and returns {write(body), read()}; writer i writes `racer-i`.
// Passes when every round has exactly one winner and stores the winner's body.
export const RACE_ROUNDS = 3

export async function race(prepare) {
  const summaries = []
  let pass = true
  for (let round = 0; round < RACE_ROUNDS; round++) {
    const { write, read } = await prepare(round)
    const bodies = Array.from({ length: RACERS }, (_, i) => `racer-${round}-${i}`)
    const results = await Promise.all(bodies.map((body) => write(body)))
    const winners = bodies.filter((_, i) => results[i].ok)
    const stored = await read()
    const storedIsWinner = winners.length === 1 && stored === winners[0]
    pass &&= storedIsWinner
    summaries.push(`${tally(results)}${storedIsWinner ? "" : `, stored "${stored}"`}`)
  }
  const same = summaries.every((s) => s === summaries[0])
  const observed = same ? `${RACE_ROUNDS} rounds, each: ${summaries[0]}` : summaries.map((s, i) => `round ${i + 1}: ${s}`).join("; ")
  return { observed: pass ? `${observed}; stored = winner's` : observed, pass }
}

// Collects result rows {check, expected, observed, pass, ms}.
export class Checks {
  rows = []

  add(check, expected, observed, pass, ms = 0) {
    this.rows.push({ check, expected, observed, pass: Boolean(pass), ms })
  }

  // Runs `run` (resolving an outcome) and passes when its label starts with
  // one of `expected`. Returns the outcome for later checks.
  async expect(check, expected, run) {
    const began = Date.now()
    const result = await run()
    this.add(check, expected.join(" or "), result.label, expected.some((e) => result.label.startsWith(e)), Date.now() - began)
    return result
  }

  async race(check, expected, prepare) {
    const began = Date.now()
    const { observed, pass } = await race(prepare)
    this.add(check, expected, observed, pass, Date.now() - began)
  }
}
