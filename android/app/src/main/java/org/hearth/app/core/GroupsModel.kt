package org.hearth.app.core

import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.update
import org.hearth.ffi.ProgramView
import org.hearth.ffi.ProposalView
import org.hearth.ffi.ReminderChoice
import org.hearth.ffi.ResourceView
import org.hearth.ffi.SessionView
import org.hearth.ffi.SignUpRecord
import org.hearth.ffi.SignUpStatus
import org.hearth.ffi.reminderChoices

/** What the Groups screen is busy with. */
enum class GroupsTask { SYNCING, SIGNING_UP, WITHDRAWING, PROPOSING, SHOWING_INTEREST }

/** The sign-up dialog: the session, and what the member has entered so far. */
data class SignUpForm(
    val sessionId: UInt,
    /** The program's title. */
    val title: String,
    val startsMs: Long,
    val endsMs: Long,
    /** "3 of 12 places left", "full, 2 on the wait-list" (the library's words). */
    val placesWords: String,
    /** The name this center knows the member by (any name they like). */
    val nickname: String,
    /** Anything the member wants staff to know. */
    val note: String,
    /** When to be reminded, on this device only. */
    val reminder: ReminderChoice?,
)

/** The "propose something" dialog. */
data class ProposalForm(val title: String = "", val whenText: String = "", val note: String = "")

/** Everything the Groups screen shows. */
data class GroupsState(
    /** Whether the center's programs have been read from the library at least once. */
    val loaded: Boolean = false,
    /** Whether this device is enrolled at a center. */
    val enrolled: Boolean = false,
    /** Programs with their sessions that have not ended. */
    val programs: List<ProgramView> = emptyList(),
    /** The resource directory. */
    val resources: List<ResourceView> = emptyList(),
    /** Members' proposals, most interest first. */
    val proposals: List<ProposalView> = emptyList(),
    /** What to show instead of the programs when there are none (the library's words). */
    val emptyWords: String? = null,
    /** When the center made what this device holds (ms), if anything arrived. */
    val receivedAtMs: Long? = null,
    /** The member's sign-ups whose session has not ended, soonest first. */
    val signUps: List<SignUpRecord> = emptyList(),
    /** The reminder picker's choices (the library's). */
    val reminderChoices: List<ReminderChoice> = emptyList(),
    /** The last try to reach the center failed: the screen shows what this device holds, and says so. */
    val offline: Boolean = false,
    /** What the last sync with the center did, in one line. */
    val syncLine: String? = null,
    /** Sign-ups the center turned down at the last sync, a sentence each. */
    val refusals: List<String> = emptyList(),
    /** The sign-up dialog, while open. */
    val signUpForm: SignUpForm? = null,
    /** The propose dialog, while open. */
    val proposalForm: ProposalForm? = null,
    val task: GroupsTask? = null,
    val error: UiError? = null,
    val notice: String? = null,
) {
    /** The member's sign-up with [id], if any. */
    fun signUp(id: String?): SignUpRecord? = id?.let { wanted -> signUps.firstOrNull { it.id == wanted } }
}

/**
 * The center's groups: browse its programs and their sessions (with places left),
 * sign up under a nickname with an optional reminder, withdraw, see where each
 * sign-up stands, propose an activity and show interest in others' proposals, and
 * the resource directory. Everything reads offline from what the center last sent;
 * a sign-up made offline waits on the device and reaches the center at the next sync.
 * The words (places, statuses, refusals, the reminder's text) come from the library.
 */
class GroupsModel(
    private val repository: HearthRepository,
    scope: CoroutineScope,
    private val clock: () -> Long = System::currentTimeMillis,
) {
    private val ui = MutableStateFlow(Ui())
    private val choices: List<ReminderChoice> = runCatching { reminderChoices() }.getOrDefault(emptyList())

    private data class Ui(
        val offline: Boolean = false,
        val syncLine: String? = null,
        val refusals: List<String> = emptyList(),
        val signUpForm: SignUpForm? = null,
        val proposalForm: ProposalForm? = null,
        val task: GroupsTask? = null,
        val error: UiError? = null,
        val notice: String? = null,
    )

    private val derived = Derived(scope, listOf(repository.center, repository.signUps)) {
        val view = repository.center.value
        val u = ui.value
        val now = clock()
        GroupsState(
            loaded = view != null,
            enrolled = view?.enrolled ?: false,
            programs = view?.programs.orEmpty(),
            resources = view?.resources.orEmpty(),
            proposals = view?.proposals.orEmpty(),
            emptyWords = view?.emptyWords,
            receivedAtMs = view?.receivedMs?.toLong(),
            signUps = repository.signUps.value.filter { it.endsMs.toLong() > now },
            reminderChoices = choices,
            offline = u.offline,
            syncLine = u.syncLine,
            refusals = u.refusals,
            signUpForm = u.signUpForm,
            proposalForm = u.proposalForm,
            task = u.task,
            error = u.error,
            notice = u.notice,
        )
    }

    /** What the screen shows (up to date as soon as an action returns). */
    val state: StateFlow<GroupsState> = derived.state

    /**
     * Brings the center up to date. Out of reach, the screen keeps showing what this
     * device holds and says it is offline; that is not an error. Before enrolling
     * there is nothing to bring up to date.
     */
    suspend fun refresh(): Boolean {
        if (repository.center.value?.enrolled != true && repository.hub() == null) return false
        begin(GroupsTask.SYNCING)
        return when (val r = repository.syncCenter()) {
            is Outcome.Ok -> {
                change { it.copy(task = null, offline = false, syncLine = r.value.summary, refusals = r.value.refused) }
                true
            }
            is Outcome.Failed -> {
                if (r.error.kind == UiError.Kind.NETWORK) {
                    change { it.copy(task = null, offline = true) }
                } else {
                    end(error = r.error)
                }
                false
            }
        }
    }

    // ---- Signing up -----------------------------------------------------------------

    /** Opens the sign-up dialog for a session, the nickname last used there filled in. */
    fun openSignUp(sessionId: UInt) {
        val view = repository.center.value ?: return
        val (program, session) = view.programs.firstNotNullOfOrNull { p ->
            p.sessions.firstOrNull { it.id == sessionId }?.let { p to it }
        } ?: return
        change {
            it.copy(
                error = null,
                signUpForm = SignUpForm(
                    sessionId = session.id,
                    title = program.title,
                    startsMs = session.startsMs.toLong(),
                    endsMs = session.endsMs.toLong(),
                    placesWords = session.placesWords,
                    nickname = view.lastNickname.orEmpty(),
                    note = "",
                    reminder = choices.firstOrNull { c -> c.isDefault },
                ),
            )
        }
    }

    /** Changes the dialog's nickname. */
    fun setNickname(nickname: String) = editForm { it.copy(nickname = nickname) }

    /** Changes the dialog's note to staff. */
    fun setNote(note: String) = editForm { it.copy(note = note) }

    /** Changes the dialog's reminder. */
    fun setReminder(choice: ReminderChoice?) = editForm { it.copy(reminder = choice) }

    /** Closes the sign-up dialog without signing up. */
    fun closeSignUp() = change { it.copy(signUpForm = null) }

    /**
     * Signs up as the dialog says. Saved at once; sent if the center is in reach (the
     * notice says which). Returns the sign-up, or `null` with the error shown (the
     * library's words for a bad nickname, or the center's reason for turning it down).
     */
    suspend fun submitSignUp(): SignUpRecord? {
        val form = ui.value.signUpForm ?: return null
        begin(GroupsTask.SIGNING_UP)
        val minutes = form.reminder?.minutes
        return when (val r = repository.signUp(form.sessionId, form.nickname, form.note, minutes)) {
            is Outcome.Ok -> {
                val s = r.value
                val notice = if (s.status is SignUpStatus.Pending) {
                    "Saved your sign-up for ${s.title}. It reaches the center the next time this phone can; " +
                        "the center decides then."
                } else {
                    "Signed up for ${s.title} as ${s.nickname}: ${s.statusWords}."
                }
                change { it.copy(task = null, signUpForm = null, notice = notice) }
                s
            }
            is Outcome.Failed -> {
                // A refusal is final for this form; anything else leaves it open to try again.
                val keep = if (r.error.kind == UiError.Kind.DENIED) null else form
                change { it.copy(task = null, error = r.error, signUpForm = keep) }
                null
            }
        }
    }

    /** Withdraws a sign-up; the notice says whether the center has heard yet. */
    suspend fun withdraw(signUpId: String): Boolean {
        begin(GroupsTask.WITHDRAWING)
        return when (val r = repository.withdraw(signUpId)) {
            is Outcome.Ok -> {
                val s = r.value
                val notice = if (s.withdrawing) {
                    "Your withdrawal from ${s.title} is saved. It reaches the center the next time this phone can."
                } else {
                    "Withdrawn from ${s.title}. Its reminder is off."
                }
                end(notice = notice)
                true
            }
            is Outcome.Failed -> {
                end(error = r.error)
                false
            }
        }
    }

    // ---- Proposals ------------------------------------------------------------------

    /** Opens the "propose something" dialog. */
    fun openProposal() = change { it.copy(error = null, proposalForm = ProposalForm()) }

    /** Changes the propose dialog. */
    fun setProposal(form: ProposalForm) = change { it.copy(proposalForm = it.proposalForm?.let { form }) }

    /** Closes the propose dialog. */
    fun closeProposal() = change { it.copy(proposalForm = null) }

    /** Sends the proposal (the center never learns who proposed it); returns its number. */
    suspend fun submitProposal(): UInt? {
        val form = ui.value.proposalForm ?: return null
        begin(GroupsTask.PROPOSING)
        return when (val r = repository.propose(form.title, form.whenText, form.note)) {
            is Outcome.Ok -> {
                change {
                    it.copy(
                        task = null,
                        proposalForm = null,
                        notice = "Proposed. Others can show interest; the center sees how many, never who.",
                    )
                }
                r.value
            }
            is Outcome.Failed -> {
                change { it.copy(task = null, error = r.error) }
                null
            }
        }
    }

    /** Counts the member as interested (once, whichever device); returns how many are now. */
    suspend fun interested(proposalId: UInt): UInt? {
        begin(GroupsTask.SHOWING_INTEREST)
        return when (val r = repository.interested(proposalId)) {
            is Outcome.Ok -> {
                val words = repository.center.value?.proposals?.firstOrNull { it.id == proposalId }?.interestedWords
                end(notice = "Counted" + (words?.let { ": $it." } ?: "."))
                r.value
            }
            is Outcome.Failed -> {
                end(error = r.error)
                null
            }
        }
    }

    /** Hides the error and the notice. */
    fun dismissMessages() = change { it.copy(error = null, notice = null) }

    /** The session [sessionId] as the center last listed it, if it is. */
    fun session(sessionId: UInt): SessionView? =
        repository.center.value?.programs?.firstNotNullOfOrNull { p -> p.sessions.firstOrNull { it.id == sessionId } }

    private fun editForm(how: (SignUpForm) -> SignUpForm) = change { it.copy(signUpForm = it.signUpForm?.let(how)) }

    private fun change(how: (Ui) -> Ui) {
        ui.update(how)
        derived.refresh()
    }

    private fun begin(task: GroupsTask) = change { it.copy(task = task, error = null) }

    private fun end(error: UiError? = null, notice: String? = null) =
        change { it.copy(task = null, error = error, notice = notice ?: it.notice) }
}
