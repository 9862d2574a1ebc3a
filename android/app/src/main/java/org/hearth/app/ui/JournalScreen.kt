package org.hearth.app.ui

import androidx.compose.foundation.Canvas
import androidx.compose.foundation.isSystemInDarkTheme
import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.PaddingValues
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.fillMaxHeight
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.height
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.layout.width
import androidx.compose.foundation.lazy.LazyColumn
import androidx.compose.foundation.lazy.items
import androidx.compose.material.icons.Icons
import androidx.compose.material.icons.filled.Delete
import androidx.compose.material3.Card
import androidx.compose.material3.Icon
import androidx.compose.material3.IconButton
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.OutlinedCard
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.remember
import androidx.compose.runtime.saveable.rememberSaveable
import androidx.compose.runtime.setValue
import androidx.compose.ui.Alignment
import androidx.compose.ui.Modifier
import androidx.compose.ui.geometry.Offset
import androidx.compose.ui.graphics.Path
import androidx.compose.ui.graphics.drawscope.Stroke
import androidx.compose.ui.res.stringResource
import androidx.compose.ui.semantics.contentDescription
import androidx.compose.ui.semantics.semantics
import androidx.compose.ui.unit.dp
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import java.time.format.DateTimeFormatter
import java.time.format.FormatStyle
import org.hearth.app.R
import org.hearth.app.core.JournalDay
import org.hearth.app.core.JournalEntry
import org.hearth.app.core.Mood
import org.hearth.app.core.MoodTrend
import org.hearth.app.core.RelativeDay
import org.hearth.app.ui.theme.moodColor

/** Journal: the 14-day mood chart, then every check-in by day. */
@Composable
fun JournalScreen(vm: JournalViewModel) {
    val state by vm.model.state.collectAsStateWithLifecycle()
    var deleting by rememberSaveable { mutableStateOf<String?>(null) }

    LazyColumn(
        modifier = Modifier.fillMaxSize(),
        contentPadding = PaddingValues(horizontal = 20.dp, vertical = 16.dp),
        verticalArrangement = Arrangement.spacedBy(12.dp),
    ) {
        item { ScreenHeader(stringResource(R.string.journal_title), stringResource(R.string.journal_subtitle)) }
        item { MessageCard(state.error, null, vm.model::dismissError) }
        item { TrendCard(state.trend) }
        if (state.loaded && state.days.isEmpty()) {
            item {
                Text(
                    stringResource(R.string.journal_empty),
                    style = MaterialTheme.typography.bodyLarge,
                    color = MaterialTheme.colorScheme.onSurfaceVariant,
                )
            }
        }
        state.days.forEach { day ->
            item(key = "day-${day.date}") { DayHeader(day) }
            items(day.entries, key = { it.checkIn.id }) { entry ->
                EntryCard(entry, onDelete = { deleting = entry.checkIn.id })
            }
        }
    }

    deleting?.let { id ->
        ConfirmDialog(
            title = stringResource(R.string.journal_delete_title),
            text = stringResource(R.string.journal_delete_text),
            confirm = stringResource(R.string.journal_delete_confirm),
            onConfirm = { vm.act { delete(id) } },
            onDismiss = { deleting = null },
        )
    }
}

@Composable
private fun TrendCard(trend: MoodTrend) {
    Card(modifier = Modifier.fillMaxWidth()) {
        Column(modifier = Modifier.padding(16.dp), verticalArrangement = Arrangement.spacedBy(8.dp)) {
            Text(stringResource(R.string.journal_chart_title), style = MaterialTheme.typography.titleMedium)
            MoodChart(trend, modifier = Modifier.fillMaxWidth().height(160.dp))
            if (trend.points.isNotEmpty()) {
                val fmt = DateTimeFormatter.ofPattern("d MMM")
                Row(modifier = Modifier.fillMaxWidth()) {
                    Text(trend.points.first().date.format(fmt), style = MaterialTheme.typography.labelSmall, modifier = Modifier.weight(1f))
                    Text(stringResource(R.string.journal_today), style = MaterialTheme.typography.labelSmall)
                }
            }
            Text(trend.summary, style = MaterialTheme.typography.bodyMedium)
        }
    }
}

/**
 * The chart: mood 1 (bottom) to 5 (top), one column per day, a line through the
 * days with check-ins (broken where a day has none), a dot per day coloured by mood.
 */
@Composable
fun MoodChart(trend: MoodTrend, modifier: Modifier = Modifier) {
    val dark = isSystemInDarkTheme()
    val grid = MaterialTheme.colorScheme.outlineVariant
    val line = MaterialTheme.colorScheme.primary
    val description = trend.summary
    val points = remember(trend) { trend.points }
    Row(modifier = modifier) {
        Column(
            modifier = Modifier.width(72.dp).fillMaxHeight(),
            verticalArrangement = Arrangement.SpaceBetween,
        ) {
            Text(Mood.label(5), style = MaterialTheme.typography.labelSmall)
            Text(Mood.label(3), style = MaterialTheme.typography.labelSmall)
            Text(Mood.label(1), style = MaterialTheme.typography.labelSmall)
        }
        Canvas(
            modifier = Modifier
                .weight(1f)
                .fillMaxSize()
                .semantics { contentDescription = description },
        ) {
            if (points.isEmpty()) return@Canvas
            val pad = 8.dp.toPx()
            val h = size.height - 2 * pad
            val stepX = if (points.size > 1) (size.width - 2 * pad) / (points.size - 1) else 0f
            fun y(mood: Float) = pad + h * (5f - mood) / 4f
            fun x(i: Int) = pad + i * stepX

            for (m in 1..5) {
                drawLine(grid, Offset(0f, y(m.toFloat())), Offset(size.width, y(m.toFloat())), strokeWidth = 1.dp.toPx())
            }
            val path = Path()
            var drawing = false
            points.forEachIndexed { i, p ->
                val mood = p.averageMood
                if (mood == null) {
                    drawing = false
                } else if (!drawing) {
                    path.moveTo(x(i), y(mood))
                    drawing = true
                } else {
                    path.lineTo(x(i), y(mood))
                }
            }
            drawPath(path, line, style = Stroke(width = 3.dp.toPx()))
            points.forEachIndexed { i, p ->
                val mood = p.averageMood ?: return@forEachIndexed
                val c = moodColor(Math.round(mood), dark)
                drawCircle(c, radius = 6.dp.toPx(), center = Offset(x(i), y(mood)))
            }
        }
    }
}

@Composable
private fun DayHeader(day: JournalDay) {
    val text = when (day.relative) {
        RelativeDay.TODAY -> stringResource(R.string.journal_today)
        RelativeDay.YESTERDAY -> stringResource(R.string.journal_yesterday)
        RelativeDay.EARLIER -> day.date.format(DateTimeFormatter.ofLocalizedDate(FormatStyle.FULL))
    }
    Text(text, style = MaterialTheme.typography.titleSmall, modifier = Modifier.padding(top = 8.dp))
}

@Composable
private fun EntryCard(entry: JournalEntry, onDelete: () -> Unit) {
    val c = entry.checkIn
    val dark = isSystemInDarkTheme()
    OutlinedCard(modifier = Modifier.fillMaxWidth()) {
        Row(modifier = Modifier.padding(start = 16.dp, top = 12.dp, bottom = 12.dp, end = 4.dp)) {
            Column(modifier = Modifier.weight(1f), verticalArrangement = Arrangement.spacedBy(4.dp)) {
                Row(horizontalArrangement = Arrangement.spacedBy(12.dp), verticalAlignment = Alignment.CenterVertically) {
                    Text(entry.time.format(DateTimeFormatter.ofLocalizedTime(FormatStyle.SHORT)), style = MaterialTheme.typography.labelLarge)
                    Text(entry.moodLabel, color = moodColor(c.mood.toInt(), dark), style = MaterialTheme.typography.titleSmall)
                }
                val details = buildList {
                    c.craving?.let { add(stringResource(R.string.journal_craving, it.toInt())) }
                    c.energy?.let { add(stringResource(R.string.journal_energy, it.toInt())) }
                    c.sleepHours?.let { add(stringResource(R.string.journal_sleep, it)) }
                }
                if (details.isNotEmpty()) Text(details.joinToString(" · "), style = MaterialTheme.typography.bodySmall)
                if (c.tags.isNotEmpty()) {
                    Text(c.tags.joinToString(", "), style = MaterialTheme.typography.bodySmall, color = MaterialTheme.colorScheme.secondary)
                }
                if (c.note.isNotBlank()) Text(c.note, style = MaterialTheme.typography.bodyMedium)
            }
            IconButton(onClick = onDelete) {
                Icon(Icons.Filled.Delete, contentDescription = stringResource(R.string.journal_delete_title))
            }
        }
    }
}
