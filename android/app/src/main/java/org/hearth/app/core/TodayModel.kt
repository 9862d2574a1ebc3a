package org.hearth.app.core

import java.time.LocalDate
import java.time.ZoneId
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.update
import org.hearth.ffi.CheckIn
import org.hearth.ffi.NewCheckIn

/** Words for the 1–5 mood scale, shared by every screen. */
object Mood {
    /** The scale, low to high. */
    val scale: List<Int> = (1..5).toList()

    /** A plain word for [mood] (1–5). */
    fun label(mood: Int): String = when (mood) {
        1 -> "Really rough"
        2 -> "Low"
        3 -> "Okay"
        4 -> "Good"
        5 -> "Great"
        else -> "—"
    }
}

/** The check-in being written on the Today screen. */
data class CheckInDraft(
    val mood: Int? = null,
    val craving: Int? = null,
    val energy: Int? = null,
    val sleepHours: Float? = null,
    val tags: List<String> = emptyList(),
    val note: String = "",
) {
    /** The record to send, or `null` while no mood is chosen. */
    fun toNewCheckIn(): NewCheckIn? = mood?.let {
        NewCheckIn(
            mood = it.toUByte(),
            craving = craving?.toUByte(),
            energy = energy?.toUByte(),
            sleepHours = sleepHours,
            tags = tags,
            note = note.trim(),
        )
    }
}

/** Everything the Today screen shows. */
data class TodayState(
    val draft: CheckInDraft = CheckInDraft(),
    val suggestedTags: List<String> = TodayModel.DEFAULT_TAGS,
    val todaysCheckIns: List<CheckIn> = emptyList(),
    val saving: Boolean = false,
    val error: UiError? = null,
    val justSaved: CheckIn? = null,
) {
    /** Whether "Save" can be pressed. */
    val canSave: Boolean get() = draft.mood != null && !saving
}

/**
 * The quick check-in: mood (required), optional craving 0–10, energy 1–5 and hours
 * slept, tags and a private note. The library validates ranges; this only keeps the
 * draft and says "pick a mood first".
 */
class TodayModel(
    private val repository: HearthRepository,
    scope: CoroutineScope,
    private val clock: () -> Long = System::currentTimeMillis,
    private val zone: ZoneId = ZoneId.systemDefault(),
) {
    private val form = MutableStateFlow(Form())

    private data class Form(
        val draft: CheckInDraft = CheckInDraft(),
        val saving: Boolean = false,
        val error: UiError? = null,
        val justSaved: CheckIn? = null,
    )

    private val derived = Derived(scope, listOf(repository.checkIns)) {
        val f = form.value
        val all = repository.checkIns.value
        TodayState(
            draft = f.draft,
            suggestedTags = suggestTags(all, f.draft.tags),
            todaysCheckIns = checkInsOn(all, dayOf(clock(), zone), zone),
            saving = f.saving,
            error = f.error,
            justSaved = f.justSaved,
        )
    }

    /** What the screen shows (up to date as soon as an action returns). */
    val state: StateFlow<TodayState> = derived.state

    /** Chooses a mood (1–5); choosing it again clears it. */
    fun setMood(mood: Int?) = edit { it.copy(mood = if (it.mood == mood) null else mood) }

    /** Craving 0–10, or `null` to leave it out. */
    fun setCraving(craving: Int?) = edit { it.copy(craving = craving) }

    /** Energy 1–5, or `null` to leave it out. */
    fun setEnergy(energy: Int?) = edit { it.copy(energy = energy) }

    /** Hours slept, or `null` to leave it out. */
    fun setSleepHours(hours: Float?) = edit { it.copy(sleepHours = hours) }

    /** The private note. */
    fun setNote(note: String) = edit { it.copy(note = note) }

    /** Adds or removes a tag. */
    fun toggleTag(tag: String) = edit { d ->
        val t = tag.trim()
        if (t.isEmpty()) d else d.copy(tags = if (t in d.tags) d.tags - t else d.tags + t)
    }

    /** Adds a tag the member typed (ignored when blank or already there). */
    fun addTag(tag: String) = edit { d ->
        val t = normalizeTag(tag)
        if (t.isEmpty() || t in d.tags) d else d.copy(tags = d.tags + t)
    }

    /** Hides the error and the "saved" note. */
    fun dismissMessages() = change { it.copy(error = null, justSaved = null) }

    /** Starts over. */
    fun clear() = change { Form() }

    /** Saves the check-in; on success the form starts over. Returns whether it saved. */
    suspend fun save(): Boolean {
        val entry = form.value.draft.toNewCheckIn()
        if (entry == null) {
            change { it.copy(error = UiError.invalid("Choose how you're doing first.")) }
            return false
        }
        change { it.copy(saving = true, error = null, justSaved = null) }
        return when (val r = repository.addCheckIn(entry)) {
            is Outcome.Ok -> {
                change { Form(justSaved = r.value) }
                true
            }
            is Outcome.Failed -> {
                change { it.copy(saving = false, error = r.error) }
                false
            }
        }
    }

    private fun edit(edit: (CheckInDraft) -> CheckInDraft) =
        change { it.copy(draft = edit(it.draft), error = null, justSaved = null) }

    private fun change(how: (Form) -> Form) {
        form.update(how)
        derived.refresh()
    }

    companion object {
        /** Tags offered before the member has any of their own. */
        val DEFAULT_TAGS = listOf(
            "meeting", "group", "talked to someone", "exercise", "outside",
            "work", "family", "lonely", "stressed", "grateful",
        )

        private const val MAX_SUGGESTIONS = 12

        /** Lower-case, single spaces, trimmed. */
        fun normalizeTag(tag: String): String = tag.trim().lowercase().replace(Regex("\\s+"), " ")

        /**
         * The member's most used tags first, then the defaults, then any chosen now;
         * no repeats, at most a dozen (plus the chosen ones).
         */
        fun suggestTags(history: List<CheckIn>, chosen: List<String> = emptyList()): List<String> {
            val used = history.flatMap { it.tags }
                .groupingBy { it }.eachCount()
                .entries.sortedWith(compareByDescending<Map.Entry<String, Int>> { it.value }.thenBy { it.key })
                .map { it.key }
            val base = (used + DEFAULT_TAGS).distinct().take(MAX_SUGGESTIONS)
            return (base + chosen).distinct()
        }

        /** The check-ins made on [day] (in [zone]), newest first. */
        fun checkInsOn(all: List<CheckIn>, day: LocalDate, zone: ZoneId): List<CheckIn> =
            all.filter { dayOf(it.atMs.toLong(), zone) == day }
                .sortedByDescending { it.atMs }
    }
}
