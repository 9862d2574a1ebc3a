package org.hearth.app.core

import java.time.LocalDate
import java.time.LocalTime
import java.time.ZoneId
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import org.hearth.ffi.CheckIn

/** One day of the mood chart: the day's average mood, or `null` with no check-in. */
data class TrendPoint(val date: LocalDate, val averageMood: Float?, val count: Int)

/** Which way the last week went, compared with the week before. */
enum class TrendDirection { UP, STEADY, DOWN }

/** The mood chart: one point per day, oldest first, ending today. */
data class MoodTrend(val points: List<TrendPoint>) {
    /** The average over the days with a check-in, or `null` if none. */
    val average: Float? = points.mapNotNull { it.averageMood }.takeIf { it.isNotEmpty() }?.average()?.toFloat()

    /** How many days had at least one check-in. */
    val daysWithCheckIns: Int = points.count { it.count > 0 }

    /**
     * The second half's average against the first half's (a change under half a
     * point is "steady"); `null` when either half has no check-in.
     */
    val direction: TrendDirection? = run {
        val half = points.size / 2
        val before = points.take(half).mapNotNull { it.averageMood }
        val after = points.drop(half).mapNotNull { it.averageMood }
        if (before.isEmpty() || after.isEmpty()) {
            null
        } else {
            val d = after.average() - before.average()
            when {
                d >= STEADY_BAND -> TrendDirection.UP
                d <= -STEADY_BAND -> TrendDirection.DOWN
                else -> TrendDirection.STEADY
            }
        }
    }

    /** A sentence under the chart, kind whichever way things went. */
    val summary: String = when {
        daysWithCheckIns == 0 -> "No check-ins in the last ${points.size} days yet. They'll show here."
        direction == TrendDirection.UP -> "Your mood has been lifting this week."
        direction == TrendDirection.DOWN -> "This week has been harder. Your plan's toolbox is there if it helps."
        direction == TrendDirection.STEADY -> "Your mood has been fairly steady."
        else -> "You checked in on $daysWithCheckIns of the last ${points.size} days."
    }

    companion object {
        private const val STEADY_BAND = 0.5

        /**
         * The trend over the [days] days ending on [today], each day's average mood
         * from the check-ins made on it (in [zone]).
         */
        fun of(checkIns: List<CheckIn>, today: LocalDate, zone: ZoneId, days: Int = TREND_DAYS): MoodTrend {
            val byDay = checkIns.groupBy { dayOf(it.atMs.toLong(), zone) }
            val points = (days - 1 downTo 0).map { back ->
                val date = today.minusDays(back.toLong())
                val moods = byDay[date].orEmpty().map { it.mood.toInt() }
                TrendPoint(date, moods.takeIf { it.isNotEmpty() }?.average()?.toFloat(), moods.size)
            }
            return MoodTrend(points)
        }

        /** The chart's span. */
        const val TREND_DAYS = 14
    }
}

/** How a day is headed in the list. */
enum class RelativeDay { TODAY, YESTERDAY, EARLIER }

/** A check-in in the list, with its local time. */
data class JournalEntry(val checkIn: CheckIn, val time: LocalTime) {
    /** The mood in words. */
    val moodLabel: String get() = Mood.label(checkIn.mood.toInt())
}

/** One day's check-ins in the list, newest first. */
data class JournalDay(val date: LocalDate, val relative: RelativeDay, val entries: List<JournalEntry>)

/** Everything the Journal screen shows. */
data class JournalState(
    val trend: MoodTrend = MoodTrend(emptyList()),
    val days: List<JournalDay> = emptyList(),
    val loaded: Boolean = false,
    val error: UiError? = null,
)

/** The history: a 14-day mood chart and every check-in, grouped by day. */
class JournalModel(
    private val repository: HearthRepository,
    scope: CoroutineScope,
    private val clock: () -> Long = System::currentTimeMillis,
    private val zone: ZoneId = ZoneId.systemDefault(),
) {
    private val error = MutableStateFlow<UiError?>(null)

    private val derived = Derived(scope, listOf(repository.checkIns, repository.loaded)) {
        val all = repository.checkIns.value
        val today = dayOf(clock(), zone)
        JournalState(MoodTrend.of(all, today, zone), group(all, today, zone), repository.loaded.value, error.value)
    }

    /** What the screen shows (up to date as soon as an action returns). */
    val state: StateFlow<JournalState> = derived.state

    /** Deletes a check-in (the screen asks first). Returns whether it was deleted. */
    suspend fun delete(id: String): Boolean {
        val r = repository.deleteCheckIn(id)
        error.value = r.errorOrNull()
        derived.refresh()
        return r.isOk
    }

    /** Hides the error. */
    fun dismissError() {
        error.value = null
        derived.refresh()
    }

    /** Recomputes the chart (e.g. when the screen is shown again on a new day). */
    fun refresh() = derived.refresh()

    companion object {
        /** Groups check-ins by local day, newest day and newest entry first. */
        fun group(checkIns: List<CheckIn>, today: LocalDate, zone: ZoneId): List<JournalDay> =
            checkIns.sortedByDescending { it.atMs }
                .groupBy { dayOf(it.atMs.toLong(), zone) }
                .map { (date, entries) ->
                    val relative = when (date) {
                        today -> RelativeDay.TODAY
                        today.minusDays(1) -> RelativeDay.YESTERDAY
                        else -> RelativeDay.EARLIER
                    }
                    JournalDay(date, relative, entries.map { JournalEntry(it, timeOf(it.atMs.toLong(), zone)) })
                }
    }
}
