// The generated Kotlin bindings on the JVM (JNA), driving the real library: suspend
// calls, a key store written in Kotlin, the listener, the plan, typed exceptions, the
// device list and backup state as enums, pairing in two steps (and turning a stranger
// away), and two devices syncing through a real `hearth-hub` on loopback. Run by
// mobile-bindings/tests/run.sh (`cargo xtask test-bindings`); prints
// "Kotlin: N passed, M failed" and exits non-zero on any failure.
//
// When the Android app's plain-Kotlin layer (android/app/src/main/java/org/hearth/app/core)
// is present, run.sh compiles it and AppLayerTest.kt in too; its tests are found here
// by name (see `appLayerTests`).

package org.hearth.tests

import java.io.File
import java.nio.file.Files
import java.util.concurrent.TimeUnit
import kotlin.system.exitProcess
import kotlinx.coroutines.async
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import org.hearth.ffi.BackupState
import org.hearth.ffi.BackupStatus
import org.hearth.ffi.ChangeOrigin
import org.hearth.ffi.CheckInPatch
import org.hearth.ffi.DeviceInfo
import org.hearth.ffi.DeviceKind
import org.hearth.ffi.DeviceRole
import org.hearth.ffi.DeviceState
import org.hearth.ffi.Hearth
import org.hearth.ffi.HearthException
import org.hearth.ffi.HearthListener
import org.hearth.ffi.KeyStore
import org.hearth.ffi.NewCheckIn
import org.hearth.ffi.PlanSection
import org.hearth.ffi.Supporter
import org.hearth.ffi.SyncStatus
import org.hearth.ffi.createHearth
import org.hearth.ffi.hearthExists
import org.hearth.ffi.joinHearth
import org.hearth.ffi.openHearth
import org.hearth.ffi.pairingCode

const val BIND = "127.0.0.1:0"

/** A named test. */
class Test(val name: String, val body: suspend () -> Unit)

/** A group of tests compiled in only sometimes (the app layer), found by class name. */
interface TestGroup {
    val tests: List<Test>
}

class AssertionFailed(message: String) : Exception(message)

fun check(condition: Boolean, what: () -> String) {
    if (!condition) throw AssertionFailed(what())
}

fun <T> assertEq(expected: T, actual: T, what: String = "value") =
    check(expected == actual) { "$what: expected <$expected>, got <$actual>" }

/** Runs [block] (inline: it may suspend), which must throw [E]; returns it. */
inline fun <reified E : Throwable> assertThrows(block: () -> Unit): E {
    try {
        block()
    } catch (e: Throwable) {
        if (e is E) return e
        throw AssertionFailed("expected ${E::class.simpleName}, got $e")
    }
    throw AssertionFailed("expected ${E::class.simpleName}, nothing was thrown")
}

/** The app's key store; here the seed in memory. */
class MemoryKeyStore : KeyStore {
    @Volatile var seed: ByteArray? = null
    @Volatile var saves = 0

    override fun load(): ByteArray? = seed

    override fun save(seed: ByteArray) {
        this.seed = seed.copyOf()
        saves++
    }
}

/** Hands what the library reports (on its own thread) to the test's coroutine. */
class Recorder : HearthListener {
    val changes = Channel<ChangeOrigin>(Channel.UNLIMITED)
    val statuses = Channel<SyncStatus>(Channel.UNLIMITED)
    @Volatile var thread: Thread? = null

    override fun onChange(origin: ChangeOrigin) {
        thread = Thread.currentThread()
        changes.trySend(origin)
    }

    override fun onSyncStatus(status: SyncStatus) {
        statuses.trySend(status)
    }

    suspend fun nextChange(ms: Long = 10_000): ChangeOrigin = withTimeout(ms) { changes.receive() }
}

/** The next status of type [T], skipping others. */
suspend inline fun <reified T : SyncStatus> Recorder.nextStatus(ms: Long = 20_000): T = withTimeout(ms) {
    var s = statuses.receive()
    while (s !is T) s = statuses.receive()
    s as T
}

/** What the Devices screen shows of each identity: kind, role, state, this device. */
data class Shown(val kind: DeviceKind, val role: DeviceRole, val state: DeviceState, val thisDevice: Boolean)

fun shown(devices: List<DeviceInfo>) = devices.map { Shown(it.kind, it.role, it.state, it.thisDevice) }

val THIS_OWNER = Shown(DeviceKind.DEVICE, DeviceRole.OWNER, DeviceState.ACTIVE, true)

/**
 * Adds a new device in [dir] to A's journal the way the apps do: A invites, the new
 * device shows [pairingCode] while it joins, A's [listener] hears `JoinRequested` with
 * the same code, and the member says yes on A. Returns the new device and the code.
 */
suspend fun pair(a: Hearth, listener: Recorder, dir: File, keys: MemoryKeyStore): Pair<Hearth, String> = coroutineScope {
    val invite = a.invite(60u)
    check(invite.ticket.isNotEmpty() && invite.qrText.isNotEmpty()) { "invite has a ticket" }
    val code = pairingCode(keys, invite.ticket)
    val joining = async { joinHearth(dir.path, keys, invite.ticket, BIND) }
    val asked = listener.nextStatus<SyncStatus.JoinRequested>()
    assertEq(code, asked.code, "the code on both devices")
    check(!joining.isCompleted) { "nothing is added before the member says so" }
    a.confirmJoin(true)
    val b = joining.await()
    val joined = listener.nextStatus<SyncStatus.DeviceJoined>()
    assertEq(b.deviceId().take(8), joined.device, "the device that joined")
    assertEq(asked.device, joined.device, "the device that asked")
    b to code
}

fun checkin(mood: Int = 4, note: String = "walked to the meeting") = NewCheckIn(
    mood = mood.toUByte(),
    craving = 2u,
    energy = 3u,
    sleepHours = 7.5f,
    tags = listOf("walk"),
    note = note,
)

fun tempDir(): File = Files.createTempDirectory("hearth-kt").toFile()

/**
 * A `hearth-hub` serving on 127.0.0.1 (any port). Its output is not a terminal, so it
 * never shows the ticket: its first stdout line says it listens, and `hearth-hub
 * ticket` shows the ticket (as the staff would get it).
 */
class HubProcess(binary: String, home: File) : AutoCloseable {
    private val process: Process = ProcessBuilder(binary, "--home", File(home, "hub").path, "serve", "--bind", BIND)
        .redirectError(File(home, "hub.log"))
        .redirectInput(ProcessBuilder.Redirect.from(File("/dev/null")))
        .also { it.environment().putIfAbsent("HEARTH_LOG", "warn") }
        .start()
    val ticket: String = process.inputStream.bufferedReader().readLine()
        ?.takeIf { it.contains("listening") }
        ?.let {
            val shown = ProcessBuilder(binary, "--home", File(home, "hub").path, "ticket")
                .redirectError(ProcessBuilder.Redirect.DISCARD)
                .start()
            val text = shown.inputStream.bufferedReader().readText().trim()
            shown.waitFor()
            text.takeIf { t -> t.startsWith("hearth") }
        }
        ?: run {
            close()
            throw IllegalStateException("the hub did not start or show its ticket; see ${File(home, "hub.log")}")
        }

    override fun close() {
        process.destroy()
        if (!process.waitFor(10, TimeUnit.SECONDS)) process.destroyForcibly().waitFor()
    }
}

fun hubBinary(): String = System.getenv("HEARTH_HUB")
    ?: listOf("target/release/hearth-hub", "target/debug/hearth-hub").map(::File)
        .filter { it.canExecute() }.maxByOrNull { it.lastModified() }?.path
    ?: throw IllegalStateException("no hearth-hub binary: set HEARTH_HUB or build it")

suspend fun create(dir: File, keys: KeyStore = MemoryKeyStore(), name: String? = "Sam"): Hearth =
    createHearth(dir.path, keys, name, BIND)

// ---- the tests ----------------------------------------------------------------------

suspend fun createWithKotlinKeyStore() {
    val dir = File(tempDir(), "a")
    val keys = MemoryKeyStore()
    check(!hearthExists(dir.path)) { "no vault yet" }
    val id = create(dir, keys).use { h ->
        assertEq("Sam", h.name(), "name")
        assertEq(64, h.deviceId().length, "device id length")
        val devices = h.devices()
        assertEq(listOf(THIS_OWNER), shown(devices), "devices")
        assertEq("device" to "has access", devices[0].kindLabel to devices[0].stateLabel, "labels")
        h.deviceId()
    }
    check(hearthExists(dir.path)) { "vault exists" }
    assertEq(1, keys.saves, "seed saves")
    assertEq(32, keys.seed?.size, "seed length")
    openHearth(dir.path, keys, BIND).use { assertEq(id, it.deviceId(), "reopened device id") }
}

suspend fun checkinsRoundTrip() = create(File(tempDir(), "a")).use { h ->
    val first = h.addCheckin(checkin(mood = 2, note = "rough night"))
    val second = h.addCheckin(checkin(mood = 5, note = "good day"))
    assertEq(2.toUByte(), first.mood, "mood")
    assertEq(7.5f, first.sleepHours, "sleep")
    assertEq(listOf("walk"), first.tags, "tags")
    assertEq(listOf(second.id, first.id), h.checkins().map { it.id }, "newest first")
    val edited = h.editCheckin(first.id, CheckInPatch(3u, null, null, null, null, "better"))
    assertEq(Triple(first.id, 3.toUByte(), "better"), Triple(edited.id, edited.mood, edited.note), "edited")
    assertEq(2.toUByte(), edited.craving, "craving kept")
    h.deleteCheckin(second.id)
    assertEq(listOf(first.id), h.checkins().map { it.id }, "after delete")
}

suspend fun listenerCallbackReceived() = create(File(tempDir(), "a")).use { h ->
    val rec = Recorder()
    val sub = h.subscribe(rec)
    assertEq(ChangeOrigin.INITIAL, rec.nextChange(), "first callback")
    h.addCheckin(checkin())
    assertEq(ChangeOrigin.LOCAL, rec.nextChange(), "after add")
    check(rec.thread != null && rec.thread != Thread.currentThread()) { "called on the library's thread" }
    sub.cancel()
    sub.close()
    h.addCheckin(checkin())
    check(runCatching { rec.nextChange(500) }.isFailure) { "no callback after cancel" }
}

suspend fun planEditsRoundTrip() = create(File(tempDir(), "a")).use { h ->
    val empty = h.plan()
    assertEq(9, empty.sections.size, "sections")
    assertEq(PlanSection.TOOLBOX, empty.sections.first().section, "first section")
    h.setPlanText(PlanSection.CRISIS, "Call Jo first.")
    h.addPlanItem(PlanSection.TRIGGERS, "payday")
    h.addPlanItem(PlanSection.TRIGGERS, "old friends")
    h.removePlanItem(PlanSection.TRIGGERS, 0u)
    h.addSupporter(Supporter(name = "Jo", role = "sponsor", contact = "555-0100"))
    val plan = h.plan()
    val by = plan.sections.associateBy { it.section }
    assertEq("Call Jo first.", by[PlanSection.CRISIS]?.text, "crisis text")
    assertEq(listOf("old friends"), by[PlanSection.TRIGGERS]?.items, "triggers")
    assertEq(listOf(Supporter("Jo", "sponsor", "555-0100")), plan.supporters, "supporters")
}

suspend fun typedExceptionsCaught() = create(File(tempDir(), "a")).use { h ->
    val mood = try {
        h.addCheckin(checkin(mood = 9))
        throw AssertionFailed("mood 9 was accepted")
    } catch (e: HearthException.Invalid) {
        e
    }
    check("mood" in mood.reason.lowercase()) { "the reason names the mood: ${mood.reason}" }
    assertThrows<HearthException.Invalid> { h.enroll("this is not a ticket") }
    assertThrows<HearthException.Invalid> {
        joinHearth(File(tempDir(), "b").path, MemoryKeyStore(), "hearth1nope", BIND)
    }
    assertThrows<HearthException.Invalid> {
        createHearth(File(tempDir(), "c").path, MemoryKeyStore(), null, "not an address")
    }
    assertThrows<HearthException.NotFound> { h.deleteCheckin("01ARZ3NDEKTSV4RRFFQ69G5FAV") }
    // Every variant is a HearthException, so one catch can handle them all.
    assertThrows<HearthException> { h.addCheckin(checkin(mood = 0)) }
    assertEq(0, h.checkins().size, "nothing was recorded")
}

suspend fun twoDevicesSyncThroughHub() {
    val home = tempDir()
    HubProcess(hubBinary(), home).use { hub ->
        val keysA = MemoryKeyStore()
        val keysB = MemoryKeyStore()
        create(File(home, "a"), keysA).use { a ->
            val hubShort = a.enroll(hub.ticket)
            assertEq(
                listOf(Shown(DeviceKind.HUB, DeviceRole.STORE, DeviceState.ACTIVE, false)),
                shown(a.devices().filter { it.shortId == hubShort }),
                "the hub",
            )
            val listener = Recorder()
            val subA = a.subscribe(listener)
            val (joined, _) = pair(a, listener, File(home, "b"), keysB)
            subA.close()
            joined.use { b ->
                check(b.deviceId() != a.deviceId()) { "a device of its own" }
                check(!keysB.seed.contentEquals(keysA.seed)) { "a seed of its own" }
                a.goOffline()

                val rec = Recorder()
                val sub = b.subscribe(rec)
                assertEq(ChangeOrigin.INITIAL, rec.nextChange(), "first callback on B")
                val added = a.addCheckin(checkin(note = "from A"))
                check(a.sync().reached >= 1u) { "A reached the hub" }
                val report = b.sync()
                check(report.reached >= 1u) { "B reached the hub: $report" }
                assertEq(listOf("from A"), b.checkins().filter { it.id == added.id }.map { it.note }, "B has A's check-in")
                assertEq(ChangeOrigin.REMOTE, rec.nextChange(), "B's listener")
                sub.close()
            }
        }
    }
}

suspend fun backupStateThroughARemoval() = create(File(tempDir(), "a")).use { h ->
    check(!h.isRemoved()) { "not removed" }
    val fresh = h.backupState()
    assertEq(BackupState.NEVER, fresh.state, "a new journal has no backup")
    check(fresh.advice?.contains("backup", ignoreCase = true) == true) { "advice: ${fresh.advice}" }
    check(h.exportBackup("correct horse battery").isNotEmpty()) { "a backup" }
    assertEq(BackupStatus(BackupState.CURRENT, null), h.backupState(), "after a backup")
    val devices = h.devices()
    assertEq(
        listOf(THIS_OWNER, Shown(DeviceKind.BACKUP_KEY, DeviceRole.RECOVERY, DeviceState.ACTIVE, false)),
        shown(devices),
        "devices with a backup key",
    )
    assertEq("backup key", devices[1].kindLabel, "kind label")
    val removal = h.removeDevice(devices[1].id)
    val retired = h.backupState()
    assertEq(BackupState.RETIRED, retired.state, "after removing the backup's key")
    check(retired.advice != null && removal.backupAdvice == retired.advice) { "advice: $removal / $retired" }
    assertEq(DeviceState.REMOVED, h.devices()[1].state, "the key is removed")
    assertThrows<HearthException.Denied> { h.removeDevice(h.deviceId()) }
    assertThrows<HearthException.Invalid> { h.removeDevice("not an id") }
}

suspend fun pairingInTwoStepsThenRemoval() {
    val home = tempDir()
    create(File(home, "a")).use { a ->
        val listener = Recorder()
        val sub = a.subscribe(listener)
        val note = a.addCheckin(checkin(note = "before B joined"))
        val keysB = MemoryKeyStore()
        val (joined, code) = pair(a, listener, File(home, "b"), keysB)
        joined.use { b ->
            check(Regex("""\d{3} \d{3}""").matches(code)) { "a six-digit code: $code" }
            assertEq(1, keysB.saves, "the code came from the seed B joined with")
            assertEq(listOf(note.id to "before B joined"), b.checkins().map { it.id to it.note }, "B has A's check-ins")
            val devices = a.devices()
            assertEq(
                listOf(THIS_OWNER, Shown(DeviceKind.DEVICE, DeviceRole.OWNER, DeviceState.ACTIVE, false)),
                shown(devices),
                "A's devices",
            )
            assertEq(b.deviceId(), devices[1].id, "B's id")

            // A backup, then B is lost: removing it retires the backup too.
            a.exportBackup("correct horse battery")
            assertEq(BackupState.CURRENT, a.backupState().state, "after a backup")
            val removal = a.removeDevice(b.deviceId())
            assertEq(1u, removal.backupsRetired, "backups retired")
            assertEq(emptyList<String>(), removal.skipped, "skipped")
            val status = a.backupState()
            assertEq(BackupState.RETIRED, status.state, "after the removal")
            check(removal.backupAdvice != null && removal.backupAdvice == status.advice) { "advice: $removal" }
            val after = a.devices().associateBy { it.id }
            assertEq(DeviceState.REMOVED, after[b.deviceId()]?.state, "B is removed")
            assertEq(
                listOf(DeviceState.REMOVED),
                after.values.filter { it.kind == DeviceKind.BACKUP_KEY }.map { it.state },
                "the backup key is retired",
            )
            check(!a.isRemoved()) { "A is not removed" }
        }
        sub.close()
        a.goOffline()
    }
}

suspend fun strangerTurnedAway() {
    val home = tempDir()
    create(File(home, "a")).use { a ->
        val listener = Recorder()
        val sub = a.subscribe(listener)
        val invite = a.invite(60u)
        val stranger = MemoryKeyStore()
        val theirCode = pairingCode(stranger, invite.ticket)
        coroutineScope {
            // Caught inside: a failed child would cancel this scope.
            val joining = async { runCatching { joinHearth(File(home, "s").path, stranger, invite.ticket, BIND) } }
            val asked = listener.nextStatus<SyncStatus.JoinRequested>()
            assertEq(theirCode, asked.code, "the code the stranger's screen shows")
            a.confirmJoin(false)
            val refused = joining.await().exceptionOrNull()
            check(refused is HearthException.Denied) { "the stranger's join fails: $refused" }
        }
        check(!hearthExists(File(home, "s").path)) { "no vault for the stranger" }
        assertEq(listOf(a.deviceId()), a.devices().map { it.id }, "A's devices")
        // Nobody is asking any more, and the invite is used up.
        assertThrows<HearthException.NotFound> { a.confirmJoin(true) }
        assertThrows<HearthException.Denied> {
            joinHearth(File(home, "b").path, MemoryKeyStore(), invite.ticket, BIND)
        }
        assertEq(1, a.devices().size, "still one device")
        sub.close()
        a.goOffline()
    }
}

val bindingTests = listOf(
    Test("create with a Kotlin key store (suspend)", ::createWithKotlinKeyStore),
    Test("check-ins round trip", ::checkinsRoundTrip),
    Test("listener callback received", ::listenerCallbackReceived),
    Test("plan edits round trip", ::planEditsRoundTrip),
    Test("typed exceptions caught", ::typedExceptionsCaught),
    Test("two devices sync through a real hub", ::twoDevicesSyncThroughHub),
    Test("backup state through a removal (enums)", ::backupStateThroughARemoval),
    Test("pairing in two steps, then removing the device", ::pairingInTwoStepsThenRemoval),
    Test("a stranger turned away cannot join", ::strangerTurnedAway),
)

/** The app layer's tests, when AppLayerTest.kt was compiled in. */
fun appLayerTests(): List<Test>? = try {
    val group = Class.forName("org.hearth.tests.AppLayerTests").getField("INSTANCE").get(null) as TestGroup
    group.tests
} catch (e: ClassNotFoundException) {
    null
}

fun main() {
    val app = appLayerTests()
    if (app == null) println("(the Android app layer is not present: its test is skipped)")
    val tests = bindingTests + app.orEmpty()
    var passed = 0
    var failed = 0
    runBlocking {
        for (t in tests) {
            val start = System.nanoTime()
            try {
                withTimeout(120_000) { t.body() }
                passed++
                println("PASS  ${t.name} (${(System.nanoTime() - start) / 1_000_000} ms)")
            } catch (e: Throwable) {
                failed++
                println("FAIL  ${t.name}: $e")
                e.printStackTrace(System.out)
            }
        }
    }
    println("Kotlin: $passed passed, $failed failed")
    System.out.flush()
    exitProcess(if (failed == 0) 0 else 1)
}
