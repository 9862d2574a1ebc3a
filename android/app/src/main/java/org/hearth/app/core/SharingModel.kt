package org.hearth.app.core

import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.update
import org.hearth.ffi.CoachCardView
import org.hearth.ffi.ConsentRecord
import org.hearth.ffi.PlanSection
import org.hearth.ffi.PlanSectionView
import org.hearth.ffi.SharedPlanRecord

/** What the Sharing screen is busy with. */
enum class SharingTask { SAVING_NAME, READING_CARD, SHARING, REVOKING, SYNCING }

/** How long the coach may see the sections, as the member chooses it. */
enum class ShareUntil {
    /** Until the member stops it. */
    I_STOP_IT,

    /** Until the end of a day the member picks. */
    LAST_DAY,

    /** Until something happens, in the member's words ("I finish the program"). */
    EVENT,
}

/** The member's choices, once they confirmed whose card it is. Nothing is chosen to begin with. */
data class ShareForm(
    val sections: Set<PlanSection> = emptySet(),
    /** Why the member shares: part of what they agree to, and the coach sees it. */
    val purpose: String = "",
    val until: ShareUntil = ShareUntil.I_STOP_IT,
    /** The last day the coach may see it, "YYYY-MM-DD" (with [ShareUntil.LAST_DAY]). */
    val lastDay: String = "",
    /** What ends it (with [ShareUntil.EVENT]). */
    val event: String = "",
)

/** Where "Share with a coach" stands. */
sealed interface ShareStep {
    /** The card was read: the member compares its name and fingerprint with the coach's screen. */
    data class Confirm(val card: CoachCardView) : ShareStep

    /** The member said it is the right coach: choose the sections, why, and until when. */
    data class Choose(val card: CoachCardView, val form: ShareForm) : ShareStep

    /** Shared (or shown again): the code, and its QR, for the coach's device. */
    data class Code(val consent: ConsentRecord) : ShareStep
}

/** Everything the member's Sharing screen shows. */
data class SharingState(
    /** Whether the journal has been read at least once. */
    val loaded: Boolean = false,
    /** Every consent the member gave, oldest first (the library's words in each). */
    val consents: List<ConsentRecord> = emptyList(),
    /** The plan's sections with their titles (the library's), to choose from. */
    val sections: List<PlanSectionView> = emptyList(),
    /** Whether this device is enrolled at a center: a coach's device gets the plan through it. */
    val enrolled: Boolean = false,
    /** Whether the journal has a name: a consent carries it (else the screen asks for one, [SharingModel.saveName]). */
    val hasName: Boolean = true,
    /** "Share with a coach", while under way. */
    val step: ShareStep? = null,
    val task: SharingTask? = null,
    val error: UiError? = null,
    val notice: String? = null,
) {
    /** The consent with [id], if any. */
    fun consent(id: String?): ConsentRecord? = id?.let { wanted -> consents.firstOrNull { it.id == wanted } }
}

/**
 * The member's side of sharing plan sections with a coach: who can see what, since
 * and until when, and why (each consent in the library's words, with its history);
 * "Share with a coach" in three steps — read the coach's card (scanned or pasted),
 * confirm the name and fingerprint match the coach's screen, choose the sections,
 * why and until when — then the code to show the coach; and stopping a share.
 * Nothing leaves the phone before the member confirmed whose card it is.
 */
class SharingModel(
    private val repository: HearthRepository,
    scope: CoroutineScope,
) {
    private val ui = MutableStateFlow(Ui())

    private data class Ui(
        val step: ShareStep? = null,
        val task: SharingTask? = null,
        val error: UiError? = null,
        val notice: String? = null,
    )

    private val derived = Derived(
        scope,
        listOf(repository.consents, repository.plan, repository.devices, repository.loaded, repository.nameFlow),
    ) {
        val u = ui.value
        SharingState(
            loaded = repository.loaded.value,
            consents = repository.consents.value,
            sections = repository.plan.value?.sections.orEmpty(),
            enrolled = repository.hub() != null,
            hasName = !repository.name.isNullOrBlank(),
            step = u.step,
            task = u.task,
            error = u.error,
            notice = u.notice,
        )
    }

    /** What the screen shows (up to date as soon as an action returns). */
    val state: StateFlow<SharingState> = derived.state

    /** Ends any consent whose last day has passed, so the list says so even offline. */
    suspend fun refresh() {
        repository.expireConsents().errorOrNull()?.let { e -> change { it.copy(error = e) } }
    }

    /** Syncs now: the center learns of a stop at once, and coaches' comments arrive. */
    suspend fun sync(): Boolean {
        begin(SharingTask.SYNCING)
        val r = repository.syncNow()
        end(error = r.errorOrNull(), notice = r.getOrNull()?.let { CenterModel.describe(it) })
        return r.isOk
    }

    // ---- The name a consent carries ---------------------------------------------------

    /**
     * Gives the journal the name a coach will see, when it has none yet: any name the
     * member likes (it need not be their real one). Then sharing can go ahead.
     */
    suspend fun saveName(name: String): Boolean {
        val n = name.trim()
        if (n.isEmpty()) return fail(NAME_BLANK)
        begin(SharingTask.SAVING_NAME)
        val r = repository.setName(n)
        end(error = r.errorOrNull(), notice = if (r.isOk) "Saved. A coach you share with will see you as $n." else null)
        return r.isOk
    }

    // ---- Share with a coach -----------------------------------------------------------

    /**
     * Reads a coach's card (its QR code, or the text they sent). Nothing is shared
     * yet: the screen shows whom it names, for the member to compare.
     */
    suspend fun readCard(text: String): Boolean {
        if (!state.value.hasName) return fail(NO_NAME)
        if (text.isBlank()) return fail("Scan your coach's card, or paste the text of it.")
        begin(SharingTask.READING_CARD)
        return when (val r = repository.readCoachCard(text)) {
            is Outcome.Ok -> {
                change { it.copy(task = null, step = ShareStep.Confirm(r.value)) }
                true
            }
            is Outcome.Failed -> {
                val error = if (r.error.kind == UiError.Kind.INVALID) {
                    UiError(UiError.Kind.INVALID, NOT_A_CARD, r.error.detail)
                } else {
                    r.error
                }
                end(error = error)
                false
            }
        }
    }

    /** The member saw the same name and fingerprint on the coach's screen: on to the choices. */
    fun confirmCard() = change { u ->
        val step = u.step as? ShareStep.Confirm ?: return@change u
        u.copy(step = ShareStep.Choose(step.card, ShareForm()), error = null)
    }

    /** It is not the card on the coach's screen: nothing is shared. */
    fun notThisCard() = change {
        it.copy(
            step = null,
            error = null,
            notice = "Nothing was shared. Ask your coach to show their card again, and check the name and fingerprint match.",
        )
    }

    /** Chooses a section, or leaves it out again. */
    fun toggleSection(section: PlanSection) = editForm { f ->
        f.copy(sections = if (section in f.sections) f.sections - section else f.sections + section)
    }

    /** Changes why the member shares. */
    fun setPurpose(purpose: String) = editForm { it.copy(purpose = purpose) }

    /** Changes how long it lasts. */
    fun setUntil(until: ShareUntil) = editForm { it.copy(until = until) }

    /** Changes the last day ("YYYY-MM-DD"). */
    fun setLastDay(day: String) = editForm { it.copy(lastDay = day) }

    /** Changes what ends it. */
    fun setEvent(event: String) = editForm { it.copy(event = event) }

    /**
     * Shares as the form says, once it holds at least one section and a purpose, then
     * syncs so the center holds it when the coach's phone asks. Returns the consent
     * (its code is then on screen for the coach), or `null` with the reason shown and
     * the form kept.
     */
    suspend fun share(): ConsentRecord? {
        val step = ui.value.step as? ShareStep.Choose ?: return null
        val f = step.form
        val problem = when {
            !state.value.hasName -> NO_NAME
            f.sections.isEmpty() -> "Choose at least one part of your plan to share."
            f.purpose.isBlank() -> "Say in a few words why you're sharing. It's part of what you agree to, and your coach sees it."
            f.until == ShareUntil.LAST_DAY && f.lastDay.isBlank() -> "Choose the last day your coach can see it."
            f.until == ShareUntil.EVENT && f.event.isBlank() -> "Say what ends it, for example “I finish the program”."
            else -> null
        }
        if (problem != null) {
            fail(problem)
            return null
        }
        begin(SharingTask.SHARING)
        val r = repository.sharePlan(
            cardText = step.card.text,
            sections = f.sections.sortedBy { it.ordinal },
            purpose = f.purpose.trim(),
            expiresOn = f.lastDay.trim().takeIf { f.until == ShareUntil.LAST_DAY },
            untilEvent = f.event.trim().takeIf { f.until == ShareUntil.EVENT },
        )
        return when (r) {
            is Outcome.Ok -> {
                change { it.copy(step = ShareStep.Code(r.value)) }
                val notice = if (syncQuietly()) {
                    null
                } else {
                    "Shared. It reaches your center the next time this phone syncs there; your coach's phone gets it from the center."
                }
                end(notice = notice)
                r.value
            }
            is Outcome.Failed -> {
                end(error = r.error)
                null
            }
        }
    }

    /** Shows an active share's code again, for the coach's device. */
    fun showCode(consentId: String) {
        val consent = state.value.consent(consentId)?.takeIf { it.shareCode != null } ?: return
        change { it.copy(step = ShareStep.Code(consent), error = null) }
    }

    /** Puts "Share with a coach" away, wherever it stands. */
    fun closeSharing() = change { it.copy(step = null) }

    // ---- Stopping -------------------------------------------------------------------

    /**
     * Stops sharing now: the coach gets nothing written from now on. Then syncs, so
     * the center turns their device away at once (else at the next sync).
     */
    suspend fun revoke(consentId: String): Boolean {
        begin(SharingTask.REVOKING)
        return when (val r = repository.revoke(consentId)) {
            is Outcome.Ok -> {
                val c = r.value
                val center = if (syncQuietly()) {
                    "the center has been told: their phone lets go of your plan when it next syncs."
                } else {
                    "the center is told the next time this phone syncs."
                }
                val notice = "You stopped sharing with ${c.coachName}. Nothing you write from now on reaches them, and $center"
                change { u ->
                    val code = u.step as? ShareStep.Code
                    u.copy(task = null, notice = notice, step = if (code?.consent?.id == consentId) null else u.step)
                }
                true
            }
            is Outcome.Failed -> {
                end(error = r.error)
                false
            }
        }
    }

    /** Hides the error and the notice. */
    fun dismissMessages() = change { it.copy(error = null, notice = null) }

    /** Syncs if enrolled, without showing a failure (the action itself worked); whether the center was reached. */
    private suspend fun syncQuietly(): Boolean =
        repository.hub() != null && repository.syncNow().getOrNull()?.let { it.reached > 0u } == true

    private fun editForm(how: (ShareForm) -> ShareForm) = change { u ->
        val step = u.step as? ShareStep.Choose ?: return@change u
        u.copy(step = step.copy(form = how(step.form)))
    }

    private fun change(how: (Ui) -> Ui) {
        ui.update(how)
        derived.refresh()
    }

    private fun begin(task: SharingTask) = change { it.copy(task = task, error = null, notice = null) }

    private fun end(error: UiError? = null, notice: String? = null) =
        change { it.copy(task = null, error = error, notice = notice ?: it.notice) }

    private fun fail(message: String): Boolean {
        change { it.copy(error = UiError.invalid(message)) }
        return false
    }

    companion object {
        /** Said when a scanned or pasted text is not a coach's card. */
        const val NOT_A_CARD =
            "That isn't a coach's card, or only part of it came through. Ask your coach to show their card again."

        /** Said when the journal has no name: a consent carries one. */
        const val NO_NAME =
            "Your coach sees a name with anything you share, and this journal doesn't have one yet. Choose one first, then share."

        /** Said when the name is left blank. */
        const val NAME_BLANK = "Type the name your coach will see. Any name you like is fine."
    }
}

/** What the Shared with me screen is busy with. */
enum class SharedTask { SHOWING_CARD, ADDING, SYNCING, COMMENTING }

/** Everything the coach's Shared with me screen shows. */
data class SharedWithMeState(
    /** Whether the journal has been read at least once. */
    val loaded: Boolean = false,
    /** The plans shared with this device, newest first (the library's words in each). */
    val shares: List<SharedPlanRecord> = emptyList(),
    /** The name this journal has, to put on the card by default. */
    val name: String? = null,
    /** This person's card as a coach, while on screen for a member to scan. */
    val card: CoachCardView? = null,
    val task: SharedTask? = null,
    val error: UiError? = null,
    val notice: String? = null,
) {
    /** The share with [id], if any. */
    fun share(id: String?): SharedPlanRecord? = id?.let { wanted -> shares.firstOrNull { it.id == wanted } }
}

/**
 * The coach's side: show the card a member scans, take up a plan by the code the
 * member shows, read what was shared (the sections, the consent in the member's
 * words, the supporters) and leave comments while sharing lasts. A plan whose
 * sharing ended says so and holds nothing any more.
 */
class SharedWithMeModel(
    private val repository: HearthRepository,
    scope: CoroutineScope,
) {
    private val ui = MutableStateFlow(Ui())

    private data class Ui(
        val card: CoachCardView? = null,
        val task: SharedTask? = null,
        val error: UiError? = null,
        val notice: String? = null,
    )

    private val derived = Derived(scope, listOf(repository.sharedWithMe, repository.loaded, repository.nameFlow)) {
        val u = ui.value
        SharedWithMeState(
            loaded = repository.loaded.value,
            shares = repository.sharedWithMe.value,
            name = repository.name,
            card = u.card,
            task = u.task,
            error = u.error,
            notice = u.notice,
        )
    }

    /** What the screen shows (up to date as soon as an action returns). */
    val state: StateFlow<SharedWithMeState> = derived.state

    /** Shows this person's card as a coach, under [name] (blank: the journal's name). */
    suspend fun showCard(name: String): Boolean {
        begin(SharedTask.SHOWING_CARD)
        return when (val r = repository.coachCard(name.trim().ifEmpty { null })) {
            is Outcome.Ok -> {
                change { it.copy(task = null, card = r.value) }
                true
            }
            is Outcome.Failed -> {
                end(error = r.error)
                false
            }
        }
    }

    /** Puts the card away. */
    fun hideCard() = change { it.copy(card = null) }

    /**
     * Takes up a plan by the code the member shows, then syncs to fetch it. A code
     * taken up while the center is out of reach is fetched at the next sync.
     */
    suspend fun add(code: String): Boolean {
        if (code.isBlank()) return fail("Scan the code on the member's screen, or paste it.")
        begin(SharedTask.ADDING)
        when (val r = repository.acceptShare(code)) {
            is Outcome.Failed -> {
                val e = r.error
                end(error = if (e.kind == UiError.Kind.INVALID) UiError(e.kind, NOT_A_CODE, e.detail) else e)
                return false
            }
            is Outcome.Ok -> {}
        }
        val reached = repository.syncNow().getOrNull()?.let { it.reached > 0u } ?: false
        end(
            notice = if (reached) {
                "Added. What they shared shows below."
            } else {
                "Added. It arrives the next time this phone syncs with the center."
            },
        )
        return true
    }

    /** Syncs now: new shares, changes to shared plans, and ends arrive. */
    suspend fun sync(): Boolean {
        begin(SharedTask.SYNCING)
        val r = repository.syncNow()
        end(error = r.errorOrNull(), notice = r.getOrNull()?.let { CenterModel.describe(it) })
        return r.isOk
    }

    /**
     * Leaves a comment on a shared plan, then syncs so it is on its way. Refused once
     * sharing ended. Returns whether it was saved.
     */
    suspend fun comment(shareId: String, text: String): Boolean {
        val share = state.value.share(shareId)
        if (text.isBlank()) return fail("Write something first.")
        if (share != null && !share.active) return fail("This sharing has ended, so you can't comment on it any more.")
        begin(SharedTask.COMMENTING)
        when (val r = repository.comment(shareId, text.trim())) {
            is Outcome.Failed -> {
                end(error = r.error)
                return false
            }
            is Outcome.Ok -> {}
        }
        val who = share?.memberName ?: "They"
        val reached = repository.syncNow().getOrNull()?.let { it.reached > 0u } ?: false
        end(
            notice = if (reached) {
                "Sent. $who will see it the next time their phone syncs."
            } else {
                "Saved. It's sent the next time this phone syncs with the center."
            },
        )
        return true
    }

    /** Hides the error and the notice. */
    fun dismissMessages() = change { it.copy(error = null, notice = null) }

    private fun change(how: (Ui) -> Ui) {
        ui.update(how)
        derived.refresh()
    }

    companion object {
        /** Said when a scanned or pasted text is not a share's code. */
        const val NOT_A_CODE =
            "That isn't the code for a shared plan, or only part of it came through. Ask them to show it again."
    }

    private fun begin(task: SharedTask) = change { it.copy(task = task, error = null, notice = null) }

    private fun end(error: UiError? = null, notice: String? = null) =
        change { it.copy(task = null, error = error, notice = notice ?: it.notice) }

    private fun fail(message: String): Boolean {
        change { it.copy(error = UiError.invalid(message)) }
        return false
    }
}
