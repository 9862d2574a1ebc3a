package org.hearth.app.core

import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.update
import org.hearth.ffi.DeviceInfo
import org.hearth.ffi.DeviceKind
import org.hearth.ffi.DeviceState
import org.hearth.ffi.SyncReport
import org.hearth.ffi.SyncStatus

/** What the Center screen is busy with. */
enum class CenterTask { ENROLLING, SYNCING, SWITCHING }

/** A line of recent activity. */
data class ActivityLine(val atMs: Long, val text: String)

/** Everything the Center screen shows. */
data class CenterState(
    /** The center's hub, once enrolled. */
    val hub: DeviceInfo? = null,
    val online: Boolean = false,
    /** The live status in words. */
    val statusLine: String = CenterModel.describe(SyncStatus.Offline) { it },
    /** The last "sync now", in words, and when. */
    val lastSyncLine: String? = null,
    val lastSyncAtMs: Long? = null,
    val activity: List<ActivityLine> = emptyList(),
    val task: CenterTask? = null,
    val error: UiError? = null,
    val notice: String? = null,
) {
    /** Whether this device is enrolled at a center. */
    val enrolled: Boolean get() = hub != null
}

/**
 * The drop-in center: enroll by scanning the code at the desk, sync now, go online
 * for live sync on the center's Wi-Fi, and see what sync is doing. The hub only
 * ever stores the journal encrypted; it cannot read it.
 */
class CenterModel(
    private val repository: HearthRepository,
    scope: CoroutineScope,
) {
    private val ui = MutableStateFlow(Ui())

    private data class Ui(val task: CenterTask? = null, val error: UiError? = null, val notice: String? = null)

    private val derived = Derived(
        scope,
        listOf(repository.devices, repository.syncStatus, repository.online, repository.activity, repository.lastSync),
    ) {
        val status = repository.syncStatus.value
        val last = repository.lastSync.value
        val u = ui.value
        CenterState(
            hub = repository.hub(),
            online = repository.online.value,
            // Going online is reported a moment later by the library; don't say "offline" meanwhile.
            statusLine = describe(
                if (status is SyncStatus.Offline && repository.online.value) SyncStatus.Online else status,
                repository::peerName,
            ),
            lastSyncLine = last?.let { describe(it.report) },
            lastSyncAtMs = last?.atMs,
            activity = repository.activity.value.map { ActivityLine(it.atMs, describe(it.status, repository::peerName)) },
            task = u.task,
            error = u.error,
            notice = u.notice,
        )
    }

    /** What the screen shows (up to date as soon as an action returns). */
    val state: StateFlow<CenterState> = derived.state

    /** Enrolls with the code scanned at the desk, then syncs once. */
    suspend fun enroll(ticket: String): Boolean {
        if (ticket.isBlank()) return fail("Scan the code shown at the center's desk.")
        begin(CenterTask.ENROLLING)
        return when (val r = repository.enroll(ticket)) {
            is Outcome.Ok -> {
                end(notice = "You're enrolled. The center keeps an encrypted copy of your journal; it can't read it.")
                syncNow()
                true
            }
            is Outcome.Failed -> {
                end(error = r.error)
                false
            }
        }
    }

    /**
     * Syncs once with the center and any of the member's devices in reach. With no
     * center and no other device there is nobody to sync with: say so kindly
     * instead of reporting a network failure.
     */
    suspend fun syncNow(): Boolean {
        if (!hasPeers()) {
            change { it.copy(error = null, notice = NOTHING_TO_SYNC) }
            return false
        }
        begin(CenterTask.SYNCING)
        return when (val r = repository.syncNow()) {
            is Outcome.Ok -> {
                end()
                true
            }
            is Outcome.Failed -> {
                end(error = r.error)
                false
            }
        }
    }

    /** Goes online for live sync (on the center's Wi-Fi), or offline. */
    suspend fun setOnline(online: Boolean): Boolean {
        begin(CenterTask.SWITCHING)
        val r = if (online) repository.goOnline() else repository.goOffline()
        end(error = r.errorOrNull())
        return r.isOk
    }

    /** Hides the error and the notice. */
    fun dismissMessages() = change { it.copy(error = null, notice = null) }

    /** Another device or a hub with access (a backup key never syncs). */
    private fun hasPeers(): Boolean = repository.devices.value.any {
        !it.thisDevice && it.state == DeviceState.ACTIVE && it.kind != DeviceKind.BACKUP_KEY
    }

    private fun change(how: (Ui) -> Ui) {
        ui.update(how)
        derived.refresh()
    }

    private fun begin(task: CenterTask) = change { it.copy(task = task, error = null) }

    private fun end(error: UiError? = null, notice: String? = null) =
        change { it.copy(task = null, error = error, notice = notice ?: it.notice) }

    private fun fail(message: String): Boolean {
        change { it.copy(error = UiError.invalid(message)) }
        return false
    }

    companion object {
        /** Said when there is no center and no other device yet. */
        const val NOTHING_TO_SYNC = "Nothing to sync with yet. Enroll at a center, or add another device."

        /** A sync status in words; [peerName] names a peer from its short id. */
        fun describe(status: SyncStatus, peerName: (String) -> String): String = when (status) {
            is SyncStatus.Offline -> "Offline. Everything is saved on this device."
            is SyncStatus.Online -> "Online, looking for the center and your devices…"
            is SyncStatus.InSync -> "Up to date with ${peerName(status.peer)}."
            is SyncStatus.Received -> {
                val n = status.newItems.toInt()
                "Got $n new ${if (n == 1) "change" else "changes"} from ${peerName(status.peer)}."
            }
            // Worded in Rust, one warning a line, as a "sync now" shows them.
            is SyncStatus.Withheld -> status.warnings.joinToString("\n") { "Warning: $it." }
            is SyncStatus.JoinRequested -> "A new device (${status.device}) asks to join your journal."
            is SyncStatus.DeviceJoined -> "A new device joined your journal (${status.device})."
        }

        /** What a "sync now" reached, in words. */
        fun describe(report: SyncReport): String {
            val reached = report.reached.toInt()
            val missed = report.unreachable.size
            val outcome = when {
                reached == 0 && missed == 0 -> NOTHING_TO_SYNC
                reached == 0 ->
                    "Couldn't reach anyone just now. Your entries are safe here and will sync later."
                missed == 0 -> "Synced with $reached ${if (reached == 1) "place" else "places"}."
                else -> "Synced with $reached; $missed couldn't be reached right now."
            }
            // What the device found missing is worded in Rust; shown under the outcome.
            val warnings = report.withheld.map { "Warning: $it." }
            return (listOf(outcome) + warnings).joinToString("\n")
        }
    }
}
