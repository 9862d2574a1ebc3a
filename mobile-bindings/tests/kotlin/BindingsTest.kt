// The generated Kotlin bindings on the JVM (JNA), driving the real library: suspend
// calls, a key store written in Kotlin, the listener, the plan, typed exceptions, the
// device list and backup state as enums, pairing in two steps (and turning a stranger
// away), two devices syncing through a real `hearth-hub` on loopback, and the center's
// groups (programs published through the hub's staff console over HTTP). Run by
// mobile-bindings/tests/run.sh (`cargo xtask test-bindings`); prints
// "Kotlin: N passed, M failed" and exits non-zero on any failure.
//
// When the Android app's plain-Kotlin layer (android/app/src/main/java/org/hearth/app/core)
// is present, run.sh compiles it and AppLayerTest.kt in too; its tests are found here
// by name (see `appLayerTests`).

package org.hearth.tests

import java.io.File
import java.net.URI
import java.net.URLEncoder
import java.net.http.HttpClient
import java.net.http.HttpRequest
import java.net.http.HttpResponse
import java.nio.file.Files
import java.time.Duration
import java.time.LocalDate
import java.time.LocalDateTime
import java.time.ZoneOffset
import java.time.format.DateTimeFormatter
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
import org.hearth.ffi.ProgramKind
import org.hearth.ffi.ResourceKind
import org.hearth.ffi.SessionAvailability
import org.hearth.ffi.SignUpRecord
import org.hearth.ffi.SignUpStatus
import org.hearth.ffi.Supporter
import org.hearth.ffi.SyncStatus
import org.hearth.ffi.createHearth
import org.hearth.ffi.hearthExists
import org.hearth.ffi.joinHearth
import org.hearth.ffi.openHearth
import org.hearth.ffi.pairingCode
import org.hearth.ffi.reminderChoices

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
 * A `hearth-hub` serving on 127.0.0.1 (any port), its staff console on another
 * loopback port (never the default one, which another hub may hold), its clock for the
 * console's forms in UTC. Its output is not a terminal, so it never shows the ticket:
 * its first stdout line says it listens, and `hearth-hub ticket` shows the ticket (as
 * the staff would get it); a later line names the console's address.
 */
class HubProcess(private val binary: String, home: File) : AutoCloseable {
    private val hubHome = File(home, "hub")
    private val process: Process = ProcessBuilder(
        binary, "--home", hubHome.path, "serve", "--bind", BIND,
        "--local-discovery", "off", "--console", BIND,
    )
        .redirectError(File(home, "hub.log"))
        .redirectInput(ProcessBuilder.Redirect.from(File("/dev/null")))
        .also {
            it.environment().putIfAbsent("HEARTH_LOG", "warn")
            it.environment()["TZ"] = "UTC"
        }
        .start()
    private val output = process.inputStream.bufferedReader()

    /** The console's address (host:port), if the hub named it. */
    val console: String?

    val ticket: String

    init {
        val listening = output.readLine()?.contains("listening") == true
        console = if (listening) {
            generateSequence { output.readLine() }.take(4)
                .firstNotNullOfOrNull { Regex("""Staff console: http://([0-9.]+:[0-9]+)/""").find(it)?.groupValues?.get(1) }
        } else {
            null
        }
        ticket = listening.takeIf { it }?.let {
            val shown = ProcessBuilder(binary, "--home", hubHome.path, "ticket")
                .redirectError(ProcessBuilder.Redirect.DISCARD)
                .start()
            val text = shown.inputStream.bufferedReader().readText().trim()
            shown.waitFor()
            text.takeIf { t -> t.startsWith("hearth") }
        } ?: run {
            close()
            throw IllegalStateException("the hub did not start or show its ticket; see ${File(home, "hub.log")}")
        }
    }

    /** A member of staff signed in to the console (the account is made first). */
    fun staff(): StaffConsole {
        val addr = console ?: throw IllegalStateException("the hub shows no staff console")
        val add = ProcessBuilder(binary, "--home", hubHome.path, "staff", "add", "sam")
            .redirectErrorStream(true)
            .also { it.environment()["HEARTH_STAFF_PASSWORD"] = STAFF_PASSWORD }
            .start()
        val said = add.inputStream.bufferedReader().readText()
        check(add.waitFor() == 0) { "staff add: $said" }
        return StaffConsole("http://$addr", "sam", STAFF_PASSWORD)
    }

    override fun close() {
        process.destroy()
        if (!process.waitFor(10, TimeUnit.SECONDS)) process.destroyForcibly().waitFor()
    }
}

const val STAFF_PASSWORD = "correct horse battery staple"

/**
 * The hub's staff console as a browser uses it (cookies, each form's CSRF token, a
 * redirect after every POST): to publish programs, sessions and partners the way
 * staff do.
 */
class StaffConsole(private val base: String, name: String, password: String) {
    private val http = HttpClient.newBuilder().followRedirects(HttpClient.Redirect.NEVER).build()
    private val cookies = linkedMapOf<String, String>()

    /** A response: its status, where it redirects, its body. */
    class Reply(val status: Int, val location: String?, val body: String)

    init {
        val page = get("/login")
        val r = post("/login", mapOf("name" to name, "password" to password, "csrf" to csrf(page)))
        check(r.status == 303 && r.location == "/") { "staff sign-in failed (${r.status})" }
    }

    private fun request(path: String, form: Map<String, String>?): Reply {
        val b = HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(20))
        if (cookies.isNotEmpty()) b.header("Cookie", cookies.entries.joinToString("; ") { "${it.key}=${it.value}" })
        if (form == null) {
            b.GET()
        } else {
            val body = form.entries.joinToString("&") {
                URLEncoder.encode(it.key, Charsets.UTF_8) + "=" + URLEncoder.encode(it.value, Charsets.UTF_8)
            }
            b.header("Content-Type", "application/x-www-form-urlencoded").POST(HttpRequest.BodyPublishers.ofString(body))
        }
        val res = http.send(b.build(), HttpResponse.BodyHandlers.ofString())
        for (cookie in res.headers().allValues("set-cookie")) {
            val (key, rest) = cookie.split("=", limit = 2).let { it[0] to it.getOrElse(1) { "" } }
            cookies[key] = rest.substringBefore(";")
        }
        return Reply(res.statusCode(), res.headers().firstValue("location").orElse(null), res.body())
    }

    private fun get(path: String): String = request(path, null).also {
        check(it.status == 200) { "GET $path: ${it.status}" }
    }.body

    private fun post(path: String, form: Map<String, String>) = request(path, form)

    private fun csrf(page: String): String =
        Regex("""name="csrf" value="([^"]+)"""").find(page)?.groupValues?.get(1) ?: throw AssertionFailed("no form token")

    /** Posts a form of [page] (with its token); returns where the console went next. */
    private fun submit(page: String, path: String, fields: Map<String, String>): String {
        val r = post(path, fields + ("csrf" to csrf(get(page))))
        check(r.status == 303) { "POST $path: ${r.status}: ${r.body.take(2000)}" }
        return r.location.orEmpty()
    }

    /** Publishes a program; returns its number. */
    fun addProgram(title: String, kind: String = "support-group", facilitator: String = "", place: String = ""): Int {
        val where = submit(
            "/programs", "/programs",
            mapOf(
                "title" to title, "kind" to kind, "description" to "", "facilitator" to facilitator,
                "place" to place, "accessibility" to "",
            ),
        )
        return Regex("""/programs/(\d+)""").find(where)?.groupValues?.get(1)?.toInt()
            ?: throw AssertionFailed("no program number in $where")
    }

    /** Adds one session of an hour, starting at [starts] (UTC, the hub's clock here). */
    fun addSession(program: Int, starts: LocalDateTime, capacity: Int = 10) {
        submit(
            "/programs/$program", "/programs/$program/sessions",
            mapOf(
                "starts" to starts.format(DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm")),
                "ends" to starts.plusHours(1).format(DateTimeFormatter.ofPattern("HH:mm")),
                "capacity" to capacity.toString(),
                "weeks" to "1",
            ),
        )
    }

    /** Adds a partner to the resource directory. */
    fun addResource(name: String, kind: String, contact: String = "") {
        submit(
            "/resources", "/resources",
            mapOf("name" to name, "kind" to kind, "description" to "", "hours" to "", "contact" to contact),
        )
    }
}

/** A day after tomorrow at 15:00 UTC, as the console's form and in ms. */
fun sessionStart(): Pair<LocalDateTime, Long> {
    val at = LocalDate.now(ZoneOffset.UTC).plusDays(2).atTime(15, 0)
    return at to at.toInstant(ZoneOffset.UTC).toEpochMilli()
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

suspend fun groupsBeforeEnrolling() = create(File(tempDir(), "a")).use { h ->
    val view = h.center()
    check(!view.enrolled && view.programs.isEmpty() && view.resources.isEmpty() && view.proposals.isEmpty()) { "$view" }
    check(view.emptyWords?.contains("not enrolled") == true) { "empty words: ${view.emptyWords}" }
    assertEq(emptyList<SignUpRecord>(), h.signups(0), "sign-ups")
    val sync = assertThrows<HearthException.NotFound> { h.syncCenter() }
    check("not enrolled at a center" in sync.reason) { sync.reason }
    val signUp = assertThrows<HearthException.NotFound> { h.signUp(4u, "Sky", "", 60.toUShort(), 0) }
    check("not enrolled at a center" in signUp.reason && '\n' !in signUp.reason) { signUp.reason }
    assertThrows<HearthException.NotFound> { h.propose("Saturday walks", "", "") }
    assertThrows<HearthException.NotFound> { h.interested(1u) }
    val choices = reminderChoices()
    assertEq(listOf(60.toUShort()), choices.filter { it.isDefault }.map { it.minutes }, "the default reminder")
    assertEq(null, choices.first().minutes, "no reminder first")
}

suspend fun groupsThroughARealHub() {
    val home = tempDir()
    HubProcess(hubBinary(), home).use { hub ->
        val staff = hub.staff()
        val program = staff.addProgram("Tuesday peer support", facilitator = "Jo")
        val (starts, startsMs) = sessionStart()
        staff.addSession(program, starts, capacity = 3)
        staff.addResource("Food bank", "food", contact = "12 High St")
        create(File(home, "a")).use { a ->
            a.enroll(hub.ticket)
            val report = a.syncCenter()
            check(report.updated && report.refused.isEmpty()) { "$report" }
            val view = a.center()
            val p = view.programs.single()
            assertEq(ProgramKind.SUPPORT_GROUP to "with Jo", p.kind to p.facts, "program")
            val s = p.sessions.single()
            assertEq(startsMs.toULong(), s.startsMs, "session start")
            assertEq(SessionAvailability.PLACES_LEFT to "3 of 3 places left", s.availability to s.placesWords, "places")
            assertEq(ResourceKind.FOOD to "Food", view.resources.single().kind to view.resources.single().kindLabel, "resource")

            val mine = a.signUp(s.id, "Sky", "", 30.toUShort(), 0)
            assertEq(SignUpStatus.Confirmed, mine.status, "status")
            assertEq((startsMs - 30 * 60_000).toULong(), mine.remindAtMs, "reminder time")
            assertEq("Hearth: something you signed up for starts at 15:00", mine.reminderText, "reminder words")
            val unknown = assertThrows<HearthException.NotFound> { a.signUp(9999u, "Sky", "", null, 0) }
            assertEq("your center lists no session 9999", unknown.reason, "unknown session")
            val gone = a.withdraw(mine.id, 0)
            assertEq(SignUpStatus.Withdrawn to null, gone.status to gone.remindAtMs, "withdrawn")
            val refused = assertThrows<HearthException.Denied> { a.interested(9999u) }
            assertEq("the center has no proposal with that number", refused.reason, "a center's refusal")
        }
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
    Test("groups before enrolling: empty, typed errors", ::groupsBeforeEnrolling),
    Test("groups through a real hub: browse, sign up, reminder, withdraw", ::groupsThroughARealHub),
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
