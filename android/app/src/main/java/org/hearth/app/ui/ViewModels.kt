package org.hearth.app.ui

import androidx.lifecycle.ViewModel
import androidx.lifecycle.viewModelScope
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.Job
import kotlinx.coroutines.launch
import kotlinx.coroutines.withContext
import org.hearth.app.core.CenterModel
import org.hearth.app.core.DevicesModel
import org.hearth.app.core.GroupsModel
import org.hearth.app.core.HearthRepository
import org.hearth.app.core.HearthSession
import org.hearth.app.core.JournalModel
import org.hearth.app.core.Outcome
import org.hearth.app.core.PlanModel
import org.hearth.app.core.SharedWithMeModel
import org.hearth.app.core.SharingModel
import org.hearth.app.core.TodayModel
import org.hearth.app.core.UiError

/**
 * Android ViewModels are thin: each owns one plain model from `core` (where the
 * logic is, tested on the JVM) and runs its suspend actions in viewModelScope.
 */
abstract class ModelViewModel<M : Any>(create: (CoroutineScope) -> M) : ViewModel() {
    /** The plain model. */
    val model: M = create(viewModelScope)

    /** Runs a suspend action of the model; it survives recomposition and rotation. */
    fun act(action: suspend M.() -> Unit): Job = viewModelScope.launch { model.action() }
}

/** Today. */
class TodayViewModel(repository: HearthRepository) :
    ModelViewModel<TodayModel>({ TodayModel(repository, it) })

/** Journal. */
class JournalViewModel(repository: HearthRepository) :
    ModelViewModel<JournalModel>({ JournalModel(repository, it) })

/** My Plan. */
class PlanViewModel(repository: HearthRepository) :
    ModelViewModel<PlanModel>({ PlanModel(repository, it) })

/** Devices. */
class DevicesViewModel(repository: HearthRepository) :
    ModelViewModel<DevicesModel>({ DevicesModel(repository, it) }) {
    /**
     * Makes a backup with [passphrase] and hands its bytes to [write] (the file the
     * member chose) off the main thread; [notSaved] is shown if writing fails.
     */
    fun makeBackup(passphrase: String, notSaved: String, write: (ByteArray) -> Unit) = act {
        val bytes = makeBackup(passphrase) ?: return@act
        val failed = withContext(Dispatchers.IO) { runCatching { write(bytes) }.exceptionOrNull() }
        backupWritten(failed?.let { UiError(UiError.Kind.STORAGE, notSaved, it.message) })
    }
}

/** Center; remembers the live-sync switch through [rememberLiveSync]. */
class CenterViewModel(
    repository: HearthRepository,
    private val rememberLiveSync: (Boolean) -> Unit,
) : ModelViewModel<CenterModel>({ CenterModel(repository, it) }) {
    /** Turns live sync on or off, and remembers the choice for next time. */
    fun setLiveSync(on: Boolean) = act {
        if (setOnline(on)) rememberLiveSync(on)
    }
}

/** Groups at the center; brings them up to date when the screen opens. */
class GroupsViewModel(repository: HearthRepository) :
    ModelViewModel<GroupsModel>({ GroupsModel(repository, it) }) {
    init {
        act { refresh() }
    }
}

/** Sharing the plan with a coach; ends any consent whose last day passed when the screen opens. */
class SharingViewModel(repository: HearthRepository) :
    ModelViewModel<SharingModel>({ SharingModel(repository, it) }) {
    init {
        act { refresh() }
    }
}

/** Plans shared with this person as a coach. */
class SharedWithMeViewModel(repository: HearthRepository) :
    ModelViewModel<SharedWithMeModel>({ SharedWithMeModel(repository, it) })

/** The welcome screen on a device with no journal yet. */
class WelcomeViewModel(private val session: HearthSession) : ViewModel() {
    /** Starts a journal. */
    fun create(name: String?) = launch { session.create(name) }

    /** Joins the journal of the device that shows [ticket]. */
    fun join(ticket: String) = launch { session.join(ticket) }

    /** Restores an encrypted backup. */
    fun restore(backup: ByteArray, passphrase: String) = launch { session.restore(backup, passphrase) }

    // Failures come back through the session's NeedsSetup(error) state.
    private fun launch(block: suspend () -> Outcome<Unit>): Job = viewModelScope.launch { block() }
}
