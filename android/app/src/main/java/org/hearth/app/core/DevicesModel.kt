package org.hearth.app.core

import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.drop
import kotlinx.coroutines.flow.update
import kotlinx.coroutines.launch
import org.hearth.ffi.DeviceInfo
import org.hearth.ffi.SyncStatus

/** What a device is to this journal. */
enum class DeviceRole {
    OWNER, WRITER, READER,

    /** The center's hub: it stores the encrypted journal and cannot read it. */
    HUB,

    /** Removed: it can read nothing written since. */
    REMOVED,

    /** A role this app version does not know. */
    OTHER,
    ;

    companion object {
        /** The role from the library's word for it. */
        fun of(role: String): DeviceRole = when (role) {
            "owner" -> OWNER
            "writer" -> WRITER
            "reader" -> READER
            HearthRepository.ROLE_STORE -> HUB
            HearthRepository.ROLE_REMOVED -> REMOVED
            else -> OTHER
        }
    }
}

/** A row of the Devices list. */
data class DeviceRow(val info: DeviceInfo, val role: DeviceRole) {
    /** Its id (hex). */
    val id: String get() = info.id

    /** What to call it. */
    val title: String
        get() = when {
            info.thisDevice -> "This device"
            role == DeviceRole.HUB -> "The center's hub"
            else -> "Device ${info.shortId}"
        }

    /** A line under the title. */
    val subtitle: String
        get() = when (role) {
            DeviceRole.OWNER, DeviceRole.WRITER -> "Can read and write your journal · ${info.shortId}"
            DeviceRole.READER -> "Can read your journal · ${info.shortId}"
            DeviceRole.HUB -> "Keeps an encrypted copy it cannot read · ${info.shortId}"
            DeviceRole.REMOVED -> "Removed: sees nothing new · ${info.shortId}"
            DeviceRole.OTHER -> "${info.role} · ${info.shortId}"
        }

    /** Whether the member can remove it from here (never this device, nor twice). */
    val canRemove: Boolean get() = !info.thisDevice && role != DeviceRole.REMOVED
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

/** Everything the Devices screen shows. */
data class DevicesState(
    val devices: List<DeviceRow> = emptyList(),
    val invite: PendingInvite? = null,
    val busy: Boolean = false,
    val error: UiError? = null,
    val notice: String? = null,
)

/**
 * The member's devices: the list (this device first, removed ones last), an invite
 * shown as a QR code for a new device to scan, and removing a lost or old device.
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
        val busy: Boolean = false,
        val error: UiError? = null,
        val notice: String? = null,
    )

    private val derived = Derived(scope, listOf(repository.devices)) {
        val u = ui.value
        DevicesState(rows(repository.devices.value), u.invite, u.busy, u.error, u.notice)
    }

    /** What the screen shows (up to date as soon as an action returns). */
    val state: StateFlow<DevicesState> = derived.state

    init {
        // When the invite is used, say so and put it away (the current status is old news).
        scope.launch {
            repository.syncStatus.drop(1).collect { status ->
                if (status is SyncStatus.DeviceJoined) {
                    change { it.copy(invite = null, notice = "A new device joined your journal (${status.device}).") }
                }
            }
        }
    }

    /** Opens an invite for another device, valid for [validSecs] (ten minutes by default). */
    suspend fun createInvite(validSecs: Int = DEFAULT_INVITE_SECS): Boolean {
        change { it.copy(busy = true, error = null, notice = null) }
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

    /** Puts the invite away (it still expires on its own). */
    fun dismissInvite() = change { it.copy(invite = null) }

    /** Whether the shown invite has run out. */
    fun inviteExpired(): Boolean = ui.value.invite?.let { clock() > it.expiresAtMs } ?: false

    /** Removes a device (the screen asks first). */
    suspend fun remove(id: String): Boolean {
        change { it.copy(busy = true, error = null, notice = null) }
        return when (val r = repository.removeDevice(id)) {
            is Outcome.Ok -> {
                change { it.copy(busy = false, notice = "Removed. That device can't read anything you write from now on.") }
                true
            }
            is Outcome.Failed -> {
                change { it.copy(busy = false, error = r.error) }
                false
            }
        }
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

        /** This device first, then the member's others, the hub, and removed ones last. */
        fun rows(devices: List<DeviceInfo>): List<DeviceRow> =
            devices.map { DeviceRow(it, DeviceRole.of(it.role)) }.sortedWith(
                compareBy<DeviceRow> {
                    when {
                        it.info.thisDevice -> 0
                        it.role == DeviceRole.REMOVED -> 3
                        it.role == DeviceRole.HUB -> 2
                        else -> 1
                    }
                }.thenBy { it.info.shortId },
            )
    }
}
