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
import org.hearth.ffi.BackupStatus
import org.hearth.ffi.CenterSyncReport
import org.hearth.ffi.CenterView
import org.hearth.ffi.ChangeOrigin
import org.hearth.ffi.CheckIn
import org.hearth.ffi.CheckInPatch
import org.hearth.ffi.CoachCardView
import org.hearth.ffi.CoachComment
import org.hearth.ffi.ConsentRecord
import org.hearth.ffi.DeviceInfo
import org.hearth.ffi.DeviceKind
import org.hearth.ffi.DeviceState
import org.hearth.ffi.HearthInterface
import org.hearth.ffi.HearthListener
import org.hearth.ffi.Invite
import org.hearth.ffi.NewCheckIn
import org.hearth.ffi.Plan
import org.hearth.ffi.PlanSection
import org.hearth.ffi.RemovalResult
import org.hearth.ffi.SharedPlanRecord
import org.hearth.ffi.SignUpRecord
import org.hearth.ffi.Subscription
import org.hearth.ffi.Supporter
import org.hearth.ffi.SyncReport
import org.hearth.ffi.SyncStatus
import org.hearth.ffi.checkCoachCard

/**
 * A local notification the app keeps scheduled for a sign-up: at [atMs], saying
 * [text] (the library's words, which give nothing away on a lock screen).
 */
data class Reminder(val signUpId: String, val atMs: Long, val text: String)

/** One sync status as it arrived, for the Center screen's "recent activity". */
data class SyncNote(val atMs: Long, val status: SyncStatus)

/** A device asking to join through the open invite: the member compares [code]. */
data class JoinRequest(
    /** Its short id. */
    val device: String,
    /** The code the new device shows too ("123 456"). */
    val code: String,
)

/**
 * The app's one view of a member's journal: wraps the device's [HearthInterface]
 * (the generated `Hearth`), keeps the current check-ins, plan, devices and sync
 * status in [StateFlow]s driven by the library's listener, and offers every action
 * as a suspend function returning an [Outcome].
 *
 * Plain Kotlin (no Android): the JVM tests drive it against the real library.
 * Call [start] once, and [close] when done (it does not close [hearth]).
 * [utcOffset] is the device's offset from UTC now, in minutes east (the library
 * words sign-up reminders in it).
 *
 * Every mutating action refreshes what it changed before it returns, so a caller
 * sees its own change in the flows as soon as the action completes; the listener
 * refreshes again for changes that come from elsewhere (sync, other devices).
 */
class HearthRepository(
    private val hearth: HearthInterface,
    private val scope: CoroutineScope,
    private val clock: () -> Long = System::currentTimeMillis,
    private val utcOffset: () -> Int = { utcOffsetMinutes() },
) {
    private val _checkIns = MutableStateFlow<List<CheckIn>>(emptyList())
    private val _plan = MutableStateFlow<Plan?>(null)
    private val _devices = MutableStateFlow<List<DeviceInfo>>(emptyList())
    private val _backup = MutableStateFlow<BackupStatus?>(null)
    private val _removed = MutableStateFlow(false)
    private val _joinRequest = MutableStateFlow<JoinRequest?>(null)
    private val _joined = MutableSharedFlow<String>(extraBufferCapacity = 8)
    private val _syncStatus = MutableStateFlow<SyncStatus>(SyncStatus.Offline)
    private val _online = MutableStateFlow(false)
    private val _loaded = MutableStateFlow(false)
    private val _activity = MutableStateFlow<List<SyncNote>>(emptyList())
    private val _lastSync = MutableStateFlow<LastSync?>(null)
    private val _errors = MutableSharedFlow<UiError>(extraBufferCapacity = 8)
    private val _center = MutableStateFlow<CenterView?>(null)
    private val _signUps = MutableStateFlow<List<SignUpRecord>>(emptyList())
    private val _reminders = MutableStateFlow<List<Reminder>?>(null)
    private val _consents = MutableStateFlow<List<ConsentRecord>>(emptyList())
    private val _coachComments = MutableStateFlow<List<CoachComment>>(emptyList())
    private val _sharedWithMe = MutableStateFlow<List<SharedPlanRecord>>(emptyList())

    /** Every check-in, newest first. */
    val checkIns: StateFlow<List<CheckIn>> = _checkIns.asStateFlow()

    /** The recovery plan (`null` until first loaded). */
    val plan: StateFlow<Plan?> = _plan.asStateFlow()

    /**
     * Every identity that can reach the journal, in the library's order (current ones
     * first): the member's devices, backup keys, and the center's hub once enrolled.
     */
    val devices: StateFlow<List<DeviceInfo>> = _devices.asStateFlow()

    /** Whether the member has a current backup, and the advice to show (`null` until loaded). */
    val backup: StateFlow<BackupStatus?> = _backup.asStateFlow()

    /** Whether this device was removed from the journal (it is then read-only). */
    val removed: StateFlow<Boolean> = _removed.asStateFlow()

    /** A device asking to join through the open invite, waiting for [confirmJoin]. */
    val joinRequest: StateFlow<JoinRequest?> = _joinRequest.asStateFlow()

    /** The short id of each device that joined through an invite, as it joins. */
    val joined: SharedFlow<String> = _joined.asSharedFlow()

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

    /**
     * The center as this device last received it: programs with their upcoming
     * sessions, resources, proposals (`null` until first loaded). Reads offline.
     */
    val center: StateFlow<CenterView?> = _center.asStateFlow()

    /** Every sign-up of the member's, soonest first, with its reminder. */
    val signUps: StateFlow<List<SignUpRecord>> = _signUps.asStateFlow()

    /**
     * The reminders to keep scheduled as local notifications (`null` until first
     * loaded, so a scheduler never cancels everything before the journal is read).
     * On this device only: no e-mail, no phone number, no push server.
     */
    val reminders: StateFlow<List<Reminder>?> = _reminders.asStateFlow()

    /**
     * Every consent the member gave a coach, oldest first: whom, which sections, since
     * and until when, why, where it stands and its history (the library's words).
     */
    val consents: StateFlow<List<ConsentRecord>> = _consents.asStateFlow()

    /** The comments coaches left on the member's shared sections, oldest first. */
    val coachComments: StateFlow<List<CoachComment>> = _coachComments.asStateFlow()

    /** The plans members shared with this person as a coach, newest first. */
    val sharedWithMe: StateFlow<List<SharedPlanRecord>> = _sharedWithMe.asStateFlow()

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
            when (status) {
                is SyncStatus.JoinRequested -> _joinRequest.value = JoinRequest(status.device, status.code)
                is SyncStatus.DeviceJoined -> {
                    _joinRequest.value = null
                    _joined.tryEmit(status.device)
                    changes.trySend(ChangeOrigin.REMOTE)
                }
                is SyncStatus.Offline -> _joinRequest.value = null
                else -> {}
            }
        }
    }

    /** This device's id (hex), or `null` if the key store could not say. */
    val deviceId: String? by lazy { runCatching { hearth.deviceId() }.getOrNull() }

    private val _name: MutableStateFlow<String?> by lazy { MutableStateFlow(runCatching { hearth.name() }.getOrNull()) }

    /** The name the member chose, if any (it changes with [setName], or from another device). */
    val name: String? get() = _name.value

    /** [name] as it changes, for a screen that follows it. */
    val nameFlow: StateFlow<String?> by lazy { _name.asStateFlow() }

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
                _backup.value = hearth.backupState()
                _removed.value = hearth.isRemoved()
                _name.value = hearth.name()
                loadCenter()
                loadSharing()
            }
        }
        _loaded.value = true
        result.errorOrNull()?.let { _errors.tryEmit(it) }
    }

    /** Reads the center's programs and the member's sign-ups (call with [refreshLock] held). */
    private suspend fun loadCenter() {
        _center.value = hearth.center()
        val signUps = hearth.signups(utcOffset())
        _signUps.value = signUps
        _reminders.value = remindersOf(signUps)
    }

    private suspend fun refreshCenter() = refreshLock.withLock { loadCenter() }

    /** Reads the consents, the coaches' comments and the plans shared with this device (call with [refreshLock] held). */
    private suspend fun loadSharing() {
        _consents.value = hearth.consents()
        _coachComments.value = hearth.coachComments()
        _sharedWithMe.value = hearth.sharedWithMe()
    }

    private suspend fun refreshSharing() = refreshLock.withLock { loadSharing() }

    private suspend fun refreshCheckIns() = refreshLock.withLock { _checkIns.value = hearth.checkins() }

    private suspend fun refreshPlan() = refreshLock.withLock { _plan.value = hearth.plan() }

    private suspend fun refreshDevices() = refreshLock.withLock {
        _devices.value = hearth.devices()
        _backup.value = hearth.backupState()
    }

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

    /**
     * Removes a device (or a backup key, or the hub): it can read nothing written from
     * now on. Every backup is retired with it; the result carries the advice to show.
     */
    suspend fun removeDevice(id: String): Outcome<RemovalResult> = attempt {
        hearth.removeDevice(id).also { refreshDevices() }
    }

    /**
     * Opens a one-time invite for another of the member's devices, valid for
     * [validSecs]. Goes online; when a device presents it, [joinRequest] holds its
     * code until the member answers with [confirmJoin], and [joined] reports it once
     * it has joined.
     */
    suspend fun invite(validSecs: Int): Outcome<Invite> = attempt {
        require(validSecs > 0) { "validSecs must be positive" }
        _joinRequest.value = null
        hearth.invite(validSecs.toUInt()).also { _online.value = true }
    }

    /**
     * Answers the device in [joinRequest]: [accept] when the member saw the same code
     * on both devices (it is added), else it is turned away and the invite is closed.
     */
    suspend fun confirmJoin(accept: Boolean): Outcome<Unit> = attempt {
        _joinRequest.value = null
        hearth.confirmJoin(accept)
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

    // ---- The center's groups ---------------------------------------------------------

    /**
     * Brings the center up to date (its programs, the sign-ups and withdrawals waiting
     * to be sent, their statuses). Fails with `NETWORK` when the center can't be
     * reached ([center] still holds what arrived last) and `NOT_FOUND` before enrolling.
     */
    suspend fun syncCenter(): Outcome<CenterSyncReport> = afterwards(attemptAtCenter { hearth.syncCenter() })

    /**
     * Signs up for a session under [nickname], with a [note] to staff and a reminder
     * [remindMinutes] before it. Saved at once and sent if the center is in reach; a
     * center that turns it down fails with its reason.
     */
    suspend fun signUp(sessionId: UInt, nickname: String, note: String, remindMinutes: UShort?): Outcome<SignUpRecord> =
        afterwards(attemptAtCenter { hearth.signUp(sessionId, nickname.trim(), note.trim(), remindMinutes, utcOffset()) })

    /** Withdraws a sign-up: saved at once, sent if the center is in reach. */
    suspend fun withdraw(signUpId: String): Outcome<SignUpRecord> =
        afterwards(attemptAtCenter { hearth.withdraw(signUpId, utcOffset()) })

    /** Proposes an activity (the center doesn't learn who); returns its number. */
    suspend fun propose(title: String, whenText: String, note: String): Outcome<UInt> =
        afterwards(attemptAtCenter { hearth.propose(title.trim(), whenText.trim(), note.trim()) })

    /** Shows interest in a proposal (once, whichever device); returns how many are interested. */
    suspend fun interested(proposalId: UInt): Outcome<UInt> =
        afterwards(attemptAtCenter { hearth.interested(proposalId) })

    /** Reloads the center and the sign-ups after a center action, whatever its outcome. */
    private suspend fun <T> afterwards(outcome: Outcome<T>): Outcome<T> {
        attempt { refreshCenter() }.errorOrNull()?.let { _errors.tryEmit(it) }
        return outcome
    }

    // ---- The member's name -------------------------------------------------------------

    /**
     * Sets the name the member chooses to be known by: what a consent to a coach names
     * them as (any name they like, never checked against anything). [nameFlow] follows.
     */
    suspend fun setName(name: String): Outcome<Unit> = attempt {
        hearth.setName(name)
        _name.value = hearth.name()
    }

    // ---- Sharing with a coach ---------------------------------------------------------

    /**
     * Reads a coach's card (scanned or pasted) and says whom it names, for the member
     * to compare with the coach's screen before anything is shared.
     */
    suspend fun readCoachCard(text: String): Outcome<CoachCardView> = attemptSharing { checkCoachCard(text.trim()) }

    /**
     * Shares [sections] of the plan with the coach whose card [cardText] is, for
     * [purpose], until the end of [expiresOn] ("YYYY-MM-DD"), or until [untilEvent],
     * or (both `null`) until the member ends it. The record carries the code to show
     * the coach.
     */
    suspend fun sharePlan(
        cardText: String,
        sections: List<PlanSection>,
        purpose: String,
        expiresOn: String?,
        untilEvent: String?,
    ): Outcome<ConsentRecord> = attemptSharing {
        hearth.sharePlan(cardText, sections, purpose, expiresOn, untilEvent).also { refreshSharing() }
    }

    /** Ends a consent now: the coach gets nothing written from now on. */
    suspend fun revoke(consentId: String): Outcome<ConsentRecord> = attemptSharing {
        hearth.revoke(consentId).also { refreshSharing() }
    }

    /** Ends every consent whose last day has passed (a sync does it too); returns how many. */
    suspend fun expireConsents(): Outcome<Int> = attemptSharing {
        hearth.expireConsents().toInt().also { refreshSharing() }
    }

    /** This person's card as a coach, under [name] (`null`: the name this journal has). */
    suspend fun coachCard(name: String?): Outcome<CoachCardView> = attemptSharing { hearth.coachCard(name) }

    /** Takes up a plan shared with this person as a coach, by the code the member shows; a sync fetches it. */
    suspend fun acceptShare(code: String): Outcome<Unit> = attemptSharing {
        hearth.acceptShare(code.trim())
        refreshSharing()
    }

    /** Leaves a comment on a plan shared with this device; it reaches the member after a sync. */
    suspend fun comment(shareId: String, text: String): Outcome<Unit> = attemptSharing {
        hearth.comment(shareId, text)
        refreshSharing()
    }

    // ---- Backups --------------------------------------------------------------------

    /**
     * The whole journal as an encrypted backup (a passphrase of 8 characters or more).
     * It also adds the backup's key to the journal, so [backup] becomes current.
     */
    suspend fun exportBackup(passphrase: String): Outcome<ByteArray> = attempt {
        hearth.exportBackup(passphrase).also { refreshDevices() }
    }

    /** Merges a backup of this same journal; returns how many items were new. */
    suspend fun importBackup(backup: ByteArray, passphrase: String): Outcome<Int> = attempt {
        hearth.importBackup(backup, passphrase).toInt().also { refreshAll() }
    }

    /** Everything as plain JSON, only when the member asks for it. */
    suspend fun exportJson(): Outcome<String> = attempt { hearth.exportJson() }

    // ---- Naming peers ----------------------------------------------------------------

    /** The center's hub, once enrolled (and not removed). */
    fun hub(): DeviceInfo? = _devices.value.firstOrNull { it.kind == DeviceKind.HUB && it.state == DeviceState.ACTIVE }

    /** How to call a peer (by its short id) in a sentence: "the center", "your device 1a2b3c4d". */
    fun peerName(shortId: String): String {
        val device = _devices.value.firstOrNull { it.shortId == shortId }
        return when {
            device?.kind == DeviceKind.HUB -> "the center"
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
        private const val MAX_ACTIVITY = 20

        /** The reminders [signUps] ask for (the library leaves out those no longer due). */
        fun remindersOf(signUps: List<SignUpRecord>): List<Reminder> = signUps.mapNotNull { s ->
            val at = s.remindAtMs ?: return@mapNotNull null
            val text = s.reminderText ?: return@mapNotNull null
            Reminder(s.id, at.toLong(), text)
        }
    }
}
