package org.hearth.app.core

import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Job
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.flow.MutableSharedFlow
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.SharedFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asSharedFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.update
import kotlinx.coroutines.launch
import kotlinx.coroutines.sync.Mutex
import kotlinx.coroutines.sync.withLock
import org.hearth.ffi.ChangeOrigin
import org.hearth.ffi.CheckIn
import org.hearth.ffi.CheckInPatch
import org.hearth.ffi.DeviceInfo
import org.hearth.ffi.HearthInterface
import org.hearth.ffi.HearthListener
import org.hearth.ffi.Invite
import org.hearth.ffi.NewCheckIn
import org.hearth.ffi.Plan
import org.hearth.ffi.PlanSection
import org.hearth.ffi.Subscription
import org.hearth.ffi.Supporter
import org.hearth.ffi.SyncReport
import org.hearth.ffi.SyncStatus

/** One sync status as it arrived, for the Center screen's "recent activity". */
data class SyncNote(val atMs: Long, val status: SyncStatus)

/**
 * The app's one view of a member's journal: wraps the device's [HearthInterface]
 * (the generated `Hearth`), keeps the current check-ins, plan, devices and sync
 * status in [StateFlow]s driven by the library's listener, and offers every action
 * as a suspend function returning an [Outcome].
 *
 * Plain Kotlin (no Android): the JVM tests drive it against the real library.
 * Call [start] once, and [close] when done (it does not close [hearth]).
 *
 * Every mutating action refreshes what it changed before it returns, so a caller
 * sees its own change in the flows as soon as the action completes; the listener
 * refreshes again for changes that come from elsewhere (sync, other devices).
 */
class HearthRepository(
    private val hearth: HearthInterface,
    private val scope: CoroutineScope,
    private val clock: () -> Long = System::currentTimeMillis,
) {
    private val _checkIns = MutableStateFlow<List<CheckIn>>(emptyList())
    private val _plan = MutableStateFlow<Plan?>(null)
    private val _devices = MutableStateFlow<List<DeviceInfo>>(emptyList())
    private val _syncStatus = MutableStateFlow<SyncStatus>(SyncStatus.Offline)
    private val _online = MutableStateFlow(false)
    private val _loaded = MutableStateFlow(false)
    private val _activity = MutableStateFlow<List<SyncNote>>(emptyList())
    private val _lastSync = MutableStateFlow<LastSync?>(null)
    private val _errors = MutableSharedFlow<UiError>(extraBufferCapacity = 8)

    /** Every check-in, newest first. */
    val checkIns: StateFlow<List<CheckIn>> = _checkIns.asStateFlow()

    /** The recovery plan (`null` until first loaded). */
    val plan: StateFlow<Plan?> = _plan.asStateFlow()

    /** This journal's devices, and the center's hub (role "store") once enrolled. */
    val devices: StateFlow<List<DeviceInfo>> = _devices.asStateFlow()

    /** The latest sync status the library reported. */
    val syncStatus: StateFlow<SyncStatus> = _syncStatus.asStateFlow()

    /** Whether this device is online for live sync (and LAN discovery). */
    val online: StateFlow<Boolean> = _online.asStateFlow()

    /** Whether the first full load has finished. */
    val loaded: StateFlow<Boolean> = _loaded.asStateFlow()

    /** The last few sync statuses, newest first. */
    val activity: StateFlow<List<SyncNote>> = _activity.asStateFlow()

    /** When the member last synced by hand, and what it reached. */
    val lastSync: StateFlow<LastSync?> = _lastSync.asStateFlow()

    /** Errors from background refreshes (actions return theirs). */
    val errors: SharedFlow<UiError> = _errors.asSharedFlow()

    /** The outcome of a "sync now". */
    data class LastSync(val atMs: Long, val report: SyncReport)

    private val changes = Channel<ChangeOrigin>(Channel.CONFLATED)
    private val refreshLock = Mutex()
    private var refresher: Job? = null
    private var subscription: Subscription? = null

    private val listener = object : HearthListener {
        // Called on a library thread: hand over, never block.
        override fun onChange(origin: ChangeOrigin) {
            changes.trySend(origin)
        }

        override fun onSyncStatus(status: SyncStatus) {
            noteStatus(status)
            if (status is SyncStatus.DeviceJoined) changes.trySend(ChangeOrigin.REMOTE)
        }
    }

    /** This device's id (hex), or `null` if the key store could not say. */
    val deviceId: String? by lazy { runCatching { hearth.deviceId() }.getOrNull() }

    /** The name the member chose, if any. */
    val name: String? by lazy { runCatching { hearth.name() }.getOrNull() }

    /**
     * Subscribes to the library: the current state arrives at once, then every change.
     * Safe to call more than once.
     */
    fun start(): Outcome<Unit> {
        if (subscription != null) return Outcome.Ok(Unit)
        refresher = scope.launch {
            for (origin in changes) refreshAll()
        }
        return try {
            subscription = hearth.subscribe(listener)
            Outcome.Ok(Unit)
        } catch (e: Exception) {
            refresher?.cancel()
            refresher = null
            Outcome.Failed(UiError.from(e))
        }
    }

    /** Stops listening. The [hearth] itself stays open (its owner closes it). */
    fun close() {
        subscription?.let {
            it.cancel()
            it.close()
        }
        subscription = null
        refresher?.cancel()
        refresher = null
    }

    /** Reloads everything from the library. */
    suspend fun refreshAll() {
        val result = attempt {
            refreshLock.withLock {
                _checkIns.value = hearth.checkins()
                _plan.value = hearth.plan()
                _devices.value = hearth.devices()
            }
        }
        _loaded.value = true
        result.errorOrNull()?.let { _errors.tryEmit(it) }
    }

    private suspend fun refreshCheckIns() = refreshLock.withLock { _checkIns.value = hearth.checkins() }

    private suspend fun refreshPlan() = refreshLock.withLock { _plan.value = hearth.plan() }

    private suspend fun refreshDevices() = refreshLock.withLock { _devices.value = hearth.devices() }

    // ---- Check-ins ----------------------------------------------------------------

    /** Records a check-in (the library checks the ranges). */
    suspend fun addCheckIn(entry: NewCheckIn): Outcome<CheckIn> = attempt {
        hearth.addCheckin(entry).also { refreshCheckIns() }
    }

    /** Changes a check-in. */
    suspend fun editCheckIn(id: String, patch: CheckInPatch): Outcome<CheckIn> = attempt {
        hearth.editCheckin(id, patch).also { refreshCheckIns() }
    }

    /** Deletes a check-in. */
    suspend fun deleteCheckIn(id: String): Outcome<Unit> = attempt {
        hearth.deleteCheckin(id)
        refreshCheckIns()
    }

    // ---- Plan ---------------------------------------------------------------------

    /** Replaces a plan section's text. */
    suspend fun setPlanText(section: PlanSection, text: String): Outcome<Unit> = attempt {
        hearth.setPlanText(section, text)
        refreshPlan()
    }

    /** Adds an item to a plan section. */
    suspend fun addPlanItem(section: PlanSection, item: String): Outcome<Unit> = attempt {
        hearth.addPlanItem(section, item)
        refreshPlan()
    }

    /** Removes the item at [index] (0-based) from a plan section. */
    suspend fun removePlanItem(section: PlanSection, index: Int): Outcome<Unit> = attempt {
        require(index >= 0) { "index must not be negative" }
        hearth.removePlanItem(section, index.toUInt())
        refreshPlan()
    }

    /** Adds someone to the crisis plan's supporters. */
    suspend fun addSupporter(supporter: Supporter): Outcome<Unit> = attempt {
        hearth.addSupporter(supporter)
        refreshPlan()
    }

    // ---- Devices and the center -----------------------------------------------------

    /** Removes a device from the journal: it can read nothing written from now on. */
    suspend fun removeDevice(id: String): Outcome<Unit> = attempt {
        hearth.removeDevice(id)
        refreshDevices()
    }

    /**
     * Opens a one-time invite for another of the member's devices, valid for
     * [validSecs]. Goes online; [syncStatus] reports `DeviceJoined` when it is used.
     */
    suspend fun invite(validSecs: Int): Outcome<Invite> = attempt {
        require(validSecs > 0) { "validSecs must be positive" }
        hearth.invite(validSecs.toUInt()).also { _online.value = true }
    }

    /** Enrolls at a center with the code its hub shows; returns the hub's short id. */
    suspend fun enroll(ticket: String): Outcome<String> = attempt {
        hearth.enroll(ticket.trim()).also { refreshDevices() }
    }

    /** Syncs once with the hub and any reachable device. */
    suspend fun syncNow(): Outcome<SyncReport> = attempt {
        val report = hearth.sync()
        _lastSync.value = LastSync(clock(), report)
        refreshAll()
        report
    }

    /** Goes online for live sync (the app holds the multicast lock meanwhile). */
    suspend fun goOnline(): Outcome<Unit> = attempt {
        hearth.goOnline()
        _online.value = true
    }

    /** Goes offline. */
    suspend fun goOffline(): Outcome<Unit> = attempt {
        hearth.goOffline()
        _online.value = false
    }

    // ---- Backups --------------------------------------------------------------------

    /** The whole journal as an encrypted backup (a passphrase of 8 characters or more). */
    suspend fun exportBackup(passphrase: String): Outcome<ByteArray> = attempt { hearth.exportBackup(passphrase) }

    /** Merges a backup of this same journal; returns how many items were new. */
    suspend fun importBackup(backup: ByteArray, passphrase: String): Outcome<Int> = attempt {
        hearth.importBackup(backup, passphrase).toInt().also { refreshAll() }
    }

    /** Everything as plain JSON, only when the member asks for it. */
    suspend fun exportJson(): Outcome<String> = attempt { hearth.exportJson() }

    // ---- Naming peers ----------------------------------------------------------------

    /** The center's hub, once enrolled (the device whose role is "store"). */
    fun hub(): DeviceInfo? = _devices.value.firstOrNull { it.role == ROLE_STORE }

    /** How to call a peer (by its short id) in a sentence: "the center", "your device 1a2b3c4d". */
    fun peerName(shortId: String): String {
        val device = _devices.value.firstOrNull { it.shortId == shortId }
        return when {
            device?.role == ROLE_STORE -> "the center"
            device != null -> "your device $shortId"
            else -> "device $shortId"
        }
    }

    private fun noteStatus(status: SyncStatus) {
        _syncStatus.value = status
        _online.value = status !is SyncStatus.Offline
        _activity.update { (listOf(SyncNote(clock(), status)) + it).take(MAX_ACTIVITY) }
    }

    companion object {
        /** The role the hub has in [devices]. */
        const val ROLE_STORE = "store"

        /** The role of a device that was removed. */
        const val ROLE_REMOVED = "removed"

        private const val MAX_ACTIVITY = 20
    }
}
