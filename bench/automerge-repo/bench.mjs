// JavaScript baseline for Hearth's sync benchmark: the same two workloads as the
// Rust side ("first sync" of a 5,500-check-in journal to a brand-new device, and
// "live latency" of one new check-in from device A to device B), run against
// automerge-repo over a WebSocket sync server on 127.0.0.1.
//
// Run: npm ci && node bench.mjs
// Output: progress on stderr, ONE line of JSON on stdout (read by hub/benches).
//
// Only ever talks to 127.0.0.1 (the server binds there, on a random free port).

import { performance } from "node:perf_hooks"
import { readFileSync } from "node:fs"
import { WebSocketServer } from "ws"
import { Repo } from "@automerge/automerge-repo"
import {
  BrowserWebSocketClientAdapter,
  NodeWSServerAdapter,
} from "@automerge/automerge-repo-network-websocket"
import * as Automerge from "@automerge/automerge"

// ---- parameters -------------------------------------------------------------

const env = (k, d) => (process.env[k] === undefined ? d : Number(process.env[k]))
const CHECKINS = env("BENCH_CHECKINS", 5500)
const FIRST_SYNC_RUNS = env("BENCH_FIRST_SYNC_RUNS", 5)
// First syncs run before the measured ones and not counted (the Rust side does the same).
const FIRST_SYNC_WARMUP = env("BENCH_FIRST_SYNC_WARMUP", 1)
const LIVE_ROUNDS = env("BENCH_LIVE_ROUNDS", 100)
// Pause between two live check-ins. automerge-repo's DocSynchronizer throttles
// outgoing sync messages (syncDebounceRate = 100 ms, on A and again on the
// server); a pause longer than that means each check-in is sent at once, as it
// would be for a person checking in now and then, instead of waiting out the
// throttle left by the previous round.
const LIVE_GAP_MS = env("BENCH_LIVE_GAP_MS", 150)
// "repo": each check-in is one handle.change() on A's repo (what the issue asks).
// "direct": build the doc with @automerge/automerge (one Automerge.change per
// check-in, same history) and hand it to A's repo with repo.import(bytes).
const BUILD = process.env.BENCH_BUILD ?? "repo"
const HOST = "127.0.0.1"

const log = (...a) => console.error("[bench]", ...a)

// ---- deterministic data -----------------------------------------------------

// mulberry32: a small seeded PRNG, so every run writes the same journal.
function prng(seed) {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
const rnd = prng(0x4ea47)
const int = (lo, hi) => lo + Math.floor(rnd() * (hi - lo + 1))
const pick = arr => arr[Math.floor(rnd() * arr.length)]

const WORDS = (
  "today felt long but I went for a walk after work and called my sponsor " +
  "slept badly woke early meeting at noon helped cravings were strong in the " +
  "evening made dinner with friends kept busy journaled before bed felt calm " +
  "anxious tired hopeful grateful the group talked about triggers and routines " +
  "coffee with a friend ran three miles rain all day stayed in read a book"
).split(" ")
const TAGS = ["walk", "meeting", "sponsor", "work", "family", "gym", "sleep", "therapy"]

// ULID-like id (26 Crockford base32 chars: 10 of time, 16 random), as Hearth's
// CheckInId: time-ordered map keys.
const CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
function ulidLike(ms) {
  let t = ""
  for (let i = 0, v = ms; i < 10; i++, v = Math.floor(v / 32)) t = CROCKFORD[v % 32] + t
  let r = ""
  for (let i = 0; i < 16; i++) r += CROCKFORD[int(0, 31)]
  return t + r
}

function note() {
  // ~20-200 characters of words.
  const target = int(20, 200)
  let s = pick(WORDS)
  while (s.length < target) s += " " + pick(WORDS)
  return s.slice(0, 200)
}

const T0 = Date.UTC(2024, 0, 1)
let clock = T0
// One check-in in Hearth's schema (core/src/doc.rs):
//   { mood: int 1-5, craving?: int 0-10, energy?: int 1-5, sleep?: f64 0-24,
//     tags?: str ("\n"-joined), note?: str }
// keyed by a ULID that carries its time (so no `at`), with empty tags and notes
// left out. Strings are stored as immutable scalar strings, like the Rust side's
// ScalarValue::Str: @automerge/automerge 3.x turns a plain JS string into a
// collaborative Text object (proxies.js: `case "string": return [value, "text"]`),
// so we wrap them in `new Automerge.ImmutableString(...)` (the 3.x name of the
// 2.x RawString). `sleep` is wrapped in Float64 so whole hours still store as f64.
// hub/benches/sync.rs draws its check-ins the same way.
function newCheckin() {
  clock += int(2, 10) * 3600_000 + int(0, 3599_999)
  const tags = []
  for (const t of TAGS) if (rnd() < 0.2) tags.push(t)
  const c = {
    mood: int(1, 5),
    energy: int(1, 5),
    sleep: new Automerge.Float64(int(8, 20) / 2),
    note: new Automerge.ImmutableString(note()),
  }
  if (tags.length > 0) c.tags = new Automerge.ImmutableString(tags.join("\n"))
  if (rnd() < 0.7) c.craving = int(0, 10) // "0-10 or absent"
  return { id: ulidLike(clock), c }
}

const SECTIONS = [
  "toolbox", "daily", "triggers", "warning-signs", "breakdown",
  "crisis", "post-crisis", "goals", "strengths",
]
// The skeleton the creating device writes in its first change (JournalDoc::create).
function skeleton() {
  const plan = {}
  // Section text is a collaborative Text object on the Rust side, which is what
  // a plain JS string becomes in @automerge/automerge 3.x; items is a list of str.
  for (const s of SECTIONS) plan[s] = { text: "", items: [] }
  plan.supporters = []
  return {
    schema: new Automerge.ImmutableString("hearth.journal/1"),
    // The Rust side keeps the member's 32-byte recovery key here.
    profile: { recovery_key: new Uint8Array(32).fill(7) },
    plan,
    checkins: {},
    consents: {},
  }
}

// The check-in shards (core/src/doc.rs: CHECKIN_SHARDS): a journal is the
// skeleton's document plus these, each check-in in the one its id picks.
const SHARDS = 2
const shardSkeleton = () => ({
  schema: new Automerge.ImmutableString("hearth.journal.checkins/1"),
  checkins: {},
})
// As the Rust side's `1 + id.random() % 2`: the low bit of the id's last
// base32 character. Returns the index into the journal's documents (0 = skeleton).
const partFor = id => 1 + (CROCKFORD.indexOf(id[id.length - 1]) % SHARDS)
const journalDocs = () => [skeleton(), ...Array.from({ length: SHARDS }, shardSkeleton)]

// ---- helpers ----------------------------------------------------------------

const sleep = ms => new Promise(r => setTimeout(r, ms))
async function waitFor(pred, what, timeoutMs = 60_000, everyMs = 2) {
  const end = performance.now() + timeoutMs
  while (!pred()) {
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`)
    await sleep(everyMs)
  }
}
const headsKey = h => [...h].sort().join(",")
const median = xs => quantile(xs, 0.5)
function quantile(xs, q) {
  const s = [...xs].sort((a, b) => a - b)
  const pos = (s.length - 1) * q
  const lo = Math.floor(pos)
  const hi = Math.ceil(pos)
  return s[lo] + (s[hi] - s[lo]) * (pos - lo)
}
const r1 = x => Math.round(x * 10) / 10
const shareAll = async () => true

function clientRepo(url) {
  return new Repo({
    network: [new BrowserWebSocketClientAdapter(url)],
    sharePolicy: shareAll,
  })
}
async function connected(repo, what) {
  await waitFor(() => repo.peers.length > 0, `${what} to connect`, 10_000, 1)
}

function version(pkg) {
  const p = new URL(`./node_modules/${pkg}/package.json`, import.meta.url)
  return JSON.parse(readFileSync(p, "utf8")).version
}

// ---- the run ----------------------------------------------------------------

async function main() {
  const tStart = performance.now()

  // Sync server: a Repo over a ws WebSocketServer, in memory, sharing everything.
  const wss = new WebSocketServer({ host: HOST, port: 0 })
  await new Promise((res, rej) => {
    wss.once("listening", res)
    wss.once("error", rej)
  })
  const port = wss.address().port
  const url = `ws://${HOST}:${port}`
  const server = new Repo({
    network: [new NodeWSServerAdapter(wss)],
    sharePolicy: shareAll,
  })
  log(`sync server on ${url}`)

  // Client A builds the journal.
  const a = clientRepo(url)
  await connected(a, "A")
  const tBuild = performance.now()
  let handlesA
  if (BUILD === "direct") {
    const docs = journalDocs().map(d => Automerge.from(d))
    for (let i = 0; i < CHECKINS; i++) {
      const { id, c } = newCheckin()
      const p = partFor(id)
      docs[p] = Automerge.change(docs[p], d => {
        d.checkins[id] = c
      })
    }
    handlesA = docs.map(doc => a.import(Automerge.save(doc)))
  } else {
    handlesA = journalDocs().map(d => a.create(d))
    for (let i = 0; i < CHECKINS; i++) {
      const { id, c } = newCheckin()
      handlesA[partFor(id)].change(d => {
        d.checkins[id] = c
      })
      if ((i + 1) % 1000 === 0) {
        log(`  A: ${i + 1} check-ins (${r1(performance.now() - tBuild)} ms)`)
        await sleep(0) // let the repo's throttled sync run now and then
      }
    }
  }
  const buildMs = performance.now() - tBuild
  const docUrls = handlesA.map(h => h.url)
  const sum = f => handlesA.reduce((n, h) => n + f(h), 0)
  const nChanges = sum(h => Automerge.getAllChanges(h.doc()).length)
  log(`A built ${CHECKINS} check-ins (${nChanges} changes, mode ${BUILD}) in ${r1(buildMs)} ms`)

  // Wait until the server has every document whole.
  const tPush = performance.now()
  const targetHeads = handlesA.map(h => headsKey(h.heads()))
  await waitFor(() => handlesA.every((hA, i) => {
    const h = server.handles[hA.documentId]
    return h && h.isReady() && headsKey(h.heads()) === targetHeads[i]
  }), "the server to have A's whole journal", 120_000, 5)
  const pushMs = performance.now() - tPush
  const docBytes = sum(h => Automerge.save(h.doc()).length)
  log(`server has the whole journal (${docBytes} bytes saved) ${r1(pushMs)} ms after the build ended`)

  // First sync: a brand-new client B finds the doc until it has every check-in.
  const firstRuns = []
  const firstInclConnect = []
  let b = null
  let handlesB = null
  for (let run = -FIRST_SYNC_WARMUP; run < FIRST_SYNC_RUNS; run++) {
    if (b) await b.shutdown()
    const t0 = performance.now()
    b = clientRepo(url)
    await connected(b, "B")
    const t1 = performance.now()
    handlesB = await Promise.all(docUrls.map(u => b.find(u)))
    const count = () =>
      handlesB.reduce((n, h) => n + Object.keys(h.doc().checkins ?? {}).length, 0)
    if (count() < CHECKINS) {
      await new Promise(res => {
        const on = () => {
          if (count() >= CHECKINS) {
            handlesB.forEach(h => h.off("change", on))
            res()
          }
        }
        handlesB.forEach(h => h.on("change", on))
        on()
      })
    }
    const t2 = performance.now()
    if (run < 0) {
      log(`first sync warm-up: ${r1(t2 - t1)} ms (connect ${r1(t1 - t0)} ms), not counted`)
      continue
    }
    firstRuns.push(t2 - t1)
    firstInclConnect.push(t2 - t0)
    log(`first sync ${run + 1}/${FIRST_SYNC_RUNS}: ${r1(t2 - t1)} ms (connect ${r1(t1 - t0)} ms)`)
  }

  // Live latency: A adds one check-in, time until B's handle shows it.
  await sleep(300) // let the last first-sync round's throttled messages settle
  const live = []
  for (let i = 0; i < LIVE_ROUNDS; i++) {
    const { id, c } = newCheckin()
    const handleA = handlesA[partFor(id)]
    const handleB = handlesB[partFor(id)]
    const seen = new Promise(res => {
      const on = () => {
        if (handleB.doc().checkins?.[id] !== undefined) {
          handleB.off("change", on)
          res(performance.now())
        }
      }
      handleB.on("change", on)
    })
    const t0 = performance.now()
    handleA.change(d => {
      d.checkins[id] = c
    })
    const t1 = await Promise.race([
      seen,
      sleep(10_000).then(() => {
        throw new Error(`live check-in ${i} never reached B`)
      }),
    ])
    live.push(t1 - t0)
    await sleep(LIVE_GAP_MS)
  }
  log(`live: median ${r1(median(live))} ms, p90 ${r1(quantile(live, 0.9))} ms over ${LIVE_ROUNDS}`)

  // Shut down: clients, then server, then the listening socket.
  await b.shutdown()
  await a.shutdown()
  await server.shutdown()
  for (const ws of wss.clients) ws.terminate()
  await new Promise(res => wss.close(() => res()))

  const out = {
    first_sync_ms: r1(median(firstRuns)),
    first_sync_runs: firstRuns.map(r1),
    first_sync_incl_connect_runs: firstInclConnect.map(r1),
    first_sync_warmup_runs: FIRST_SYNC_WARMUP,
    live_median_ms: r1(median(live)),
    live_p90_ms: r1(quantile(live, 0.9)),
    live_rounds: LIVE_ROUNDS,
    live_gap_ms: LIVE_GAP_MS,
    checkins: CHECKINS,
    changes: nChanges,
    doc_bytes: docBytes,
    build_mode: BUILD,
    build_ms: r1(buildMs),
    server_push_ms: r1(pushMs),
    total_ms: r1(performance.now() - tStart),
    versions: {
      node: process.versions.node,
      "@automerge/automerge": version("@automerge/automerge"),
      "@automerge/automerge-repo": version("@automerge/automerge-repo"),
      "@automerge/automerge-repo-network-websocket": version(
        "@automerge/automerge-repo-network-websocket"
      ),
      ws: version("ws"),
    },
  }
  process.stdout.write(JSON.stringify(out) + "\n")
}

// Hard stop, so a hang never outlives the benchmark that spawned us.
const watchdog = setTimeout(() => {
  log("timed out after 10 minutes")
  process.exit(2)
}, 600_000)
watchdog.unref()

main().then(
  () => process.exit(0),
  err => {
    log("failed:", err?.stack ?? err)
    process.exit(1)
  }
)
