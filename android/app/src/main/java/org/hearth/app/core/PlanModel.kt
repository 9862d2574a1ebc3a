package org.hearth.app.core

import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.update
import org.hearth.ffi.CoachComment
import org.hearth.ffi.PlanSection
import org.hearth.ffi.PlanSectionView
import org.hearth.ffi.Supporter

/** Everything the My Plan screen shows. */
data class PlanState(
    val sections: List<PlanSectionView> = emptyList(),
    val supporters: List<Supporter> = emptyList(),
    /** What coaches the member shares sections with wrote about them, oldest first. */
    val coachComments: List<CoachComment> = emptyList(),
    val loaded: Boolean = false,
    val busy: Boolean = false,
    val error: UiError? = null,
) {
    /** How many of the sections have something in them. */
    val sectionsStarted: Int get() = sections.count { it.text.isNotBlank() || it.items.isNotEmpty() }

    /** One section by id. */
    fun section(id: PlanSection): PlanSectionView? = sections.firstOrNull { it.section == id }
}

/**
 * The WRAP-style recovery plan: nine sections, each with free text and a list of
 * items, and the crisis plan's supporters. Titles and order come from the library.
 * Coaches' comments on the sections the member shares are shown with it.
 */
class PlanModel(
    private val repository: HearthRepository,
    scope: CoroutineScope,
) {
    private val ui = MutableStateFlow(Ui())

    private data class Ui(val busy: Boolean = false, val error: UiError? = null)

    private val derived = Derived(scope, listOf(repository.plan, repository.coachComments)) {
        val plan = repository.plan.value
        val u = ui.value
        PlanState(
            sections = plan?.sections.orEmpty(),
            supporters = plan?.supporters.orEmpty(),
            coachComments = repository.coachComments.value,
            loaded = plan != null,
            busy = u.busy,
            error = u.error,
        )
    }

    /** What the screen shows (up to date as soon as an action returns). */
    val state: StateFlow<PlanState> = derived.state

    /** Saves a section's text (nothing is written when it did not change). */
    suspend fun saveText(section: PlanSection, text: String): Boolean {
        if (state.value.section(section)?.text == text) return true
        return perform { repository.setPlanText(section, text) }
    }

    /** Adds an item to a section; a blank item is refused with a gentle word. */
    suspend fun addItem(section: PlanSection, item: String): Boolean {
        val t = item.trim()
        if (t.isEmpty()) return fail("Write something to add first.")
        return perform { repository.addPlanItem(section, t) }
    }

    /** Removes the item at [index] of a section. */
    suspend fun removeItem(section: PlanSection, index: Int): Boolean = perform { repository.removePlanItem(section, index) }

    /** Adds a supporter to the crisis plan (a name is needed; the rest is optional). */
    suspend fun addSupporter(name: String, role: String, contact: String): Boolean {
        val n = name.trim()
        if (n.isEmpty()) return fail("Add a name (a first name or a nickname is fine).")
        return perform { repository.addSupporter(Supporter(name = n, role = role.trim(), contact = contact.trim())) }
    }

    /** Hides the error. */
    fun dismissError() = change { it.copy(error = null) }

    private fun fail(message: String): Boolean {
        change { it.copy(error = UiError.invalid(message)) }
        return false
    }

    private suspend fun perform(action: suspend () -> Outcome<Unit>): Boolean {
        change { Ui(busy = true) }
        val r = action()
        change { Ui(busy = false, error = r.errorOrNull()) }
        return r.isOk
    }

    private fun change(how: (Ui) -> Ui) {
        ui.update(how)
        derived.refresh()
    }
}
