package org.hearth.app.core

import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.update
import kotlinx.coroutines.launch
import org.hearth.ffi.BackupState
import org.hearth.ffi.DeviceInfo
import org.hearth.ffi.DeviceState

/** A row of the Devices list: a device of the member's, a backup key, or the hub. */
data class DeviceRow(val info: DeviceInfo) {
    /** Its id (hex). */
    val id: String get() = info.id

    /** Whether it still has access. */
    val active: Boolean get() = info.state == DeviceState.ACTIVE

    /** Whether the member can remove it from here (never this device, nor twice). */
    val canRemove: Boolean get() = !info.thisDevice && active
}

/** An invite on screen, for another of the member's devices to scan. */
data class PendingInvite(
    /** The ticket text. */
    val ticket: String,
    /** What to put in the QR code (upper case: a denser code, same ticket). */
    val qrContent: String,
    /** When it stops working, ms since the epoch. */
    val expiresAtMs: Long,
)

/** Something that went well, for the screen to say in its own words. */
sealed interface DevicesNotice {
    /** A device joined through the invite. */
    data class Joined(val device: String) : DevicesNotice

    /** The member turned the asking device away; the invite is closed. */
    data object TurnedAway : DevicesNotice

    /** The device was removed; [skipped] (short ids) could not get the new key and need adding again. */
    data class Removed(val skipped: List<String>) : DevicesNotice

    /** A backup file was written. */
    data object BackupSaved : DevicesNotice
}

/** Everything the Devices screen shows. */
data class DevicesState(
    /** In the library's order: current ones first, this device first among them. */
    val devices: List<DeviceRow> = emptyList(),
    val invite: PendingInvite? = null,
    /** A device presenting the invite: show its code and ask the member to compare. */
    val joinRequest: JoinRequest? = null,
    /** Whether the member said yes and the device is being added. */
    val adding: Boolean = false,
    /** What to tell the member about backups (the library's words), if anything. */
    val backupAdvice: String? = null,
    /** Whether the member has a backup, made since the last removal (`null` until loaded). */
    val backupState: BackupState? = null,
    /** Whether this device was removed from the journal (it is read-only). */
    val thisDeviceRemoved: Boolean = false,
    val busy: Boolean = false,
    val error: UiError? = null,
    val notice: DevicesNotice? = null,
)

/**
 * The member's devices: the list (every identity that can reach the journal, with
 * its kind and state), an invite shown as a QR code for a new device to scan, the
 * member's answer when a device presents it (both devices show one code), removing a
 * lost or old device, and the backup advice the library gives (with making a backup).
 * A new device joins from its own welcome screen ([HearthSession.join]).
 */
class DevicesModel(
    private val repository: HearthRepository,
    scope: CoroutineScope,
    private val clock: () -> Long = System::currentTimeMillis,
) {
    private val ui = MutableStateFlow(Ui())

    private data class Ui(
        val invite: PendingInvite? = null,
        val adding: Boolean = false,
        val busy: Boolean = false,
        val error: UiError? = null,
        val notice: DevicesNotice? = null,
    )

    private val derived = Derived(
        scope,
        listOf(repository.devices, repository.backup, repository.removed, repository.joinRequest),
    ) {
        val u = ui.value
        DevicesState(
            devices = repository.devices.value.map(::DeviceRow),
            invite = u.invite,
            joinRequest = repository.joinRequest.value,
            adding = u.adding,
            backupAdvice = repository.backup.value?.advice,
            backupState = repository.backup.value?.state,
            thisDeviceRemoved = repository.removed.value,
            busy = u.busy,
            error = u.error,
            notice = u.notice,
        )
    }

    /** What the screen shows (up to date as soon as an action returns). */
    val state: StateFlow<DevicesState> = derived.state

    init {
        // When the invite is used, say so and put it away.
        scope.launch {
            repository.joined.collect { device ->
                change { it.copy(invite = null, adding = false, notice = DevicesNotice.Joined(device)) }
            }
        }
    }

    /** Opens an invite for another device, valid for [validSecs] (ten minutes by default). */
    suspend fun createInvite(validSecs: Int = DEFAULT_INVITE_SECS): Boolean {
        change { it.copy(busy = true, adding = false, error = null, notice = null) }
        return when (val r = repository.invite(validSecs)) {
            is Outcome.Ok -> {
                val invite = PendingInvite(
                    ticket = r.value.ticket,
                    qrContent = r.value.ticket.uppercase(),
                    expiresAtMs = clock() + validSecs * 1000L,
                )
                change { it.copy(busy = false, invite = invite) }
                true
            }
            is Outcome.Failed -> {
                change { it.copy(busy = false, error = r.error) }
                false
            }
        }
    }

    /**
     * The member's answer to the device asking to join: [sameCode] when both devices
     * show the same code (it is added), else it is turned away and the invite closed.
     */
    suspend fun answerJoin(sameCode: Boolean): Boolean {
        change { it.copy(busy = true, error = null, notice = null) }
        return when (val r = repository.confirmJoin(sameCode)) {
            is Outcome.Ok -> {
                change {
                    if (sameCode) {
                        it.copy(busy = false, adding = true)
                    } else {
                        it.copy(busy = false, invite = null, notice = DevicesNotice.TurnedAway)
                    }
                }
                true
            }
            is Outcome.Failed -> {
                change { it.copy(busy = false, invite = null, error = r.error) }
                false
            }
        }
    }

    /** Puts the invite away (it still expires on its own). */
    fun dismissInvite() = change { it.copy(invite = null, adding = false) }

    /** Whether the shown invite has run out. */
    fun inviteExpired(): Boolean = ui.value.invite?.let { clock() > it.expiresAtMs } ?: false

    /** Removes a device (the screen asks first); the backup advice follows in [state]. */
    suspend fun remove(id: String): Boolean {
        change { it.copy(busy = true, error = null, notice = null) }
        return when (val r = repository.removeDevice(id)) {
            is Outcome.Ok -> {
                change { it.copy(busy = false, notice = DevicesNotice.Removed(r.value.skipped)) }
                true
            }
            is Outcome.Failed -> {
                change { it.copy(busy = false, error = r.error) }
                false
            }
        }
    }

    /**
     * Makes an encrypted backup with [passphrase] (the library checks its length) and
     * returns its bytes for the screen to write to the file the member chose; `null`
     * (with the error shown) if it failed. Call [backupWritten] once the file is saved.
     */
    suspend fun makeBackup(passphrase: String): ByteArray? {
        change { it.copy(busy = true, error = null, notice = null) }
        return when (val r = repository.exportBackup(passphrase)) {
            is Outcome.Ok -> {
                change { it.copy(busy = false) }
                r.value
            }
            is Outcome.Failed -> {
                change { it.copy(busy = false, error = r.error) }
                null
            }
        }
    }

    /** The backup file was written ([error] is set when it could not be). */
    fun backupWritten(error: UiError? = null) = change {
        if (error == null) it.copy(notice = DevicesNotice.BackupSaved) else it.copy(error = error)
    }

    /** Hides the error and the notice. */
    fun dismissMessages() = change { it.copy(error = null, notice = null) }

    private fun change(how: (Ui) -> Ui) {
        ui.update(how)
        derived.refresh()
    }

    companion object {
        /** Ten minutes. */
        const val DEFAULT_INVITE_SECS = 600
    }
}
