package org.hearth.app.core

import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.launch
import org.hearth.ffi.Hearth
import org.hearth.ffi.KeyStore
import org.hearth.ffi.createHearth
import org.hearth.ffi.hearthExists
import org.hearth.ffi.joinHearth
import org.hearth.ffi.openHearth
import org.hearth.ffi.pairingCode
import org.hearth.ffi.restoreHearth

/**
 * Opens the journal on this device, or — on a new device — lets the member start
 * one, join their journal from another device, or restore a backup. Owns the
 * [Hearth] object and the [HearthRepository] over it.
 *
 * [dataDir] is the vault's folder (the app's private files, excluded from backup);
 * [keyStore] keeps the device's seed (Android Keystore / iOS Keychain).
 * [forgetSeed], if given, is called before a journal is created, joined or restored
 * on a device that has none: a seed left over from an earlier install (the iOS
 * Keychain outlives the app) must not become the new device's identity.
 * [utcOffset] is the device's offset from UTC now, in minutes east (for reminders).
 */
class HearthSession(
    private val dataDir: String,
    private val keyStore: KeyStore,
    private val scope: CoroutineScope,
    private val bind: String? = null,
    private val clock: () -> Long = System::currentTimeMillis,
    private val forgetSeed: (() -> Unit)? = null,
    private val utcOffset: () -> Int = { utcOffsetMinutes() },
) {
    /** Where the session is. */
    sealed interface State {
        /** Opening the journal. */
        data object Opening : State

        /** No journal on this device yet: show the welcome screen. */
        data class NeedsSetup(val error: UiError? = null) : State

        /**
         * Creating, joining or restoring; [what] says which, for the progress text.
         * While joining, [pairingCode] is the code to show: the member checks that
         * the other device shows the same one, and confirms there.
         */
        data class Working(val what: Setup, val pairingCode: String? = null) : State

        /** The journal is open. */
        data class Ready(val repository: HearthRepository) : State

        /** The journal is there but could not be opened. */
        data class Failed(val error: UiError) : State
    }

    /** What the welcome screen is doing. */
    enum class Setup { CREATING, JOINING, RESTORING }

    private val _state = MutableStateFlow<State>(State.Opening)

    /** The current state; the app's root screen follows it. */
    val state: StateFlow<State> = _state.asStateFlow()

    private var hearth: Hearth? = null

    /** The open repository, if any. */
    val repository: HearthRepository? get() = (_state.value as? State.Ready)?.repository

    /** Opens the journal if this device has one, else asks for setup. */
    suspend fun open() {
        if (_state.value is State.Ready) return
        _state.value = State.Opening
        if (!hearthExists(dataDir)) {
            _state.value = State.NeedsSetup()
            return
        }
        when (val r = attempt { openHearth(dataDir, keyStore, bind) }) {
            is Outcome.Ok -> ready(r.value)
            is Outcome.Failed -> _state.value = State.Failed(r.error)
        }
    }

    /** Starts a new journal. [name] is what the member wants to be called, if anything. */
    suspend fun create(name: String?): Outcome<Unit> = setup(Setup.CREATING) {
        createHearth(dataDir, keyStore, name?.trim()?.takeIf { it.isNotEmpty() }, bind)
    }

    /**
     * Makes this device one more device of the journal whose invite code is [ticket].
     * Shows the pairing code (in [state]) while the other device asks the member to
     * compare it; fails if the member turns this device away there.
     */
    suspend fun join(ticket: String): Outcome<Unit> {
        val t = ticket.trim()
        val r = setup(Setup.JOINING, code = { pairingCode(keyStore, t) }) { joinHearth(dataDir, keyStore, t, bind) }
        val error = r.errorOrNull()
        if (error?.kind == UiError.Kind.DENIED) {
            // Turned away on the other device, or the invite was already used.
            val turnedAway = error.copy(message = TURNED_AWAY)
            _state.value = State.NeedsSetup(turnedAway)
            return Outcome.Failed(turnedAway)
        }
        return r
    }

    /** Restores an encrypted backup as a new device. */
    suspend fun restore(backup: ByteArray, passphrase: String): Outcome<Unit> = setup(Setup.RESTORING) {
        restoreHearth(dataDir, keyStore, backup, passphrase, bind)
    }

    /** Goes offline, stops listening and closes the journal. */
    suspend fun close() {
        val repo = repository
        repo?.goOffline()
        repo?.close()
        hearth?.close()
        hearth = null
        _state.value = State.Opening
    }

    /**
     * Runs [open] with the state at [what]. [code], if given, is computed once the
     * seed is settled (a leftover one forgotten, so the code is the new identity's)
     * and shown while [open] runs.
     */
    private suspend fun setup(what: Setup, code: (() -> String)? = null, open: suspend () -> Hearth): Outcome<Unit> {
        if (_state.value is State.Ready) return Outcome.Failed(UiError.invalid("This device already has a journal."))
        _state.value = State.Working(what)
        val r = attempt {
            if (!hearthExists(dataDir)) forgetSeed?.invoke()
            if (code != null) _state.value = State.Working(what, code())
            open()
        }
        return when (r) {
            is Outcome.Ok -> {
                ready(r.value)
                Outcome.Ok(Unit)
            }
            is Outcome.Failed -> {
                _state.value = State.NeedsSetup(r.error)
                r
            }
        }
    }

    private fun ready(opened: Hearth) {
        hearth = opened
        val repo = HearthRepository(opened, scope, clock, utcOffset)
        // Without the listener the screens still work; load once so they show something.
        if (!repo.start().isOk) scope.launch { repo.refreshAll() }
        _state.value = State.Ready(repo)
    }

    companion object {
        /** Said when the other device turned this one away (or its invite was used). */
        const val TURNED_AWAY = "Your other device didn't add this one: it was turned away there, " +
            "or the code was already used. On your other device, tap “Add a device” for a new code."
    }
}
