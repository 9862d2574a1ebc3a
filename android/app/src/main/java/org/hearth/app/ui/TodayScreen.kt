package org.hearth.app.ui

import androidx.compose.foundation.isSystemInDarkTheme
import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.ExperimentalLayoutApi
import androidx.compose.foundation.layout.FlowRow
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.Spacer
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.height
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.layout.size
import androidx.compose.foundation.rememberScrollState
import androidx.compose.foundation.text.KeyboardActions
import androidx.compose.foundation.text.KeyboardOptions
import androidx.compose.foundation.verticalScroll
import androidx.compose.material.icons.Icons
import androidx.compose.material.icons.filled.Add
import androidx.compose.material.icons.filled.Check
import androidx.compose.material3.Button
import androidx.compose.material3.Checkbox
import androidx.compose.material3.CircularProgressIndicator
import androidx.compose.material3.FilterChip
import androidx.compose.material3.FilterChipDefaults
import androidx.compose.material3.HorizontalDivider
import androidx.compose.material3.Icon
import androidx.compose.material3.IconButton
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.OutlinedCard
import androidx.compose.material3.OutlinedTextField
import androidx.compose.material3.Slider
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.saveable.rememberSaveable
import androidx.compose.runtime.setValue
import androidx.compose.ui.Alignment
import androidx.compose.ui.Modifier
import androidx.compose.ui.res.stringResource
import androidx.compose.ui.text.input.ImeAction
import androidx.compose.ui.text.input.KeyboardCapitalization
import androidx.compose.ui.unit.dp
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import java.time.ZoneId
import java.time.format.DateTimeFormatter
import java.time.format.FormatStyle
import kotlin.math.roundToInt
import org.hearth.app.R
import org.hearth.app.core.Mood
import org.hearth.app.core.timeOf
import org.hearth.app.ui.theme.moodColor

/** Today: a quick check-in. Mood is all that's needed; the rest is optional. */
@OptIn(ExperimentalLayoutApi::class)
@Composable
fun TodayScreen(vm: TodayViewModel, name: String?) {
    val state by vm.model.state.collectAsStateWithLifecycle()
    val draft = state.draft
    val dark = isSystemInDarkTheme()
    var newTag by rememberSaveable { mutableStateOf("") }

    Column(
        modifier = Modifier
            .fillMaxSize()
            .verticalScroll(rememberScrollState())
            .padding(horizontal = 20.dp, vertical = 16.dp),
        verticalArrangement = Arrangement.spacedBy(16.dp),
    ) {
        ScreenHeader(
            title = if (name.isNullOrBlank()) stringResource(R.string.today_title) else stringResource(R.string.today_title_named, name),
            subtitle = stringResource(R.string.today_subtitle),
        )

        MessageCard(
            error = state.error,
            notice = state.justSaved?.let { stringResource(R.string.today_saved) },
            onDismiss = vm.model::dismissMessages,
        )

        // Mood (the only thing needed).
        FlowRow(horizontalArrangement = Arrangement.spacedBy(8.dp), verticalArrangement = Arrangement.spacedBy(4.dp)) {
            Mood.scale.forEach { m ->
                FilterChip(
                    selected = draft.mood == m,
                    onClick = { vm.model.setMood(m) },
                    label = { Text(Mood.label(m)) },
                    colors = FilterChipDefaults.filterChipColors(
                        selectedContainerColor = moodColor(m, dark).copy(alpha = 0.25f),
                    ),
                )
            }
        }

        OptionalSlider(
            label = stringResource(R.string.today_craving),
            value = draft.craving?.toFloat(),
            range = 0f..10f,
            steps = 9,
            default = 0f,
            describe = { stringResource(R.string.today_craving_value, it.roundToInt()) },
            onChange = { vm.model.setCraving(it?.roundToInt()) },
        )
        OptionalSlider(
            label = stringResource(R.string.today_energy),
            value = draft.energy?.toFloat(),
            range = 1f..5f,
            steps = 3,
            default = 3f,
            describe = { stringResource(R.string.today_energy_value, it.roundToInt()) },
            onChange = { vm.model.setEnergy(it?.roundToInt()) },
        )
        OptionalSlider(
            label = stringResource(R.string.today_sleep),
            value = draft.sleepHours,
            range = 0f..12f,
            steps = 23,
            default = 7f,
            describe = { stringResource(R.string.today_sleep_value, it) },
            onChange = { vm.model.setSleepHours(it?.let { h -> (h * 2).roundToInt() / 2f }) },
        )

        // Tags.
        Text(stringResource(R.string.today_tags), style = MaterialTheme.typography.titleSmall)
        FlowRow(horizontalArrangement = Arrangement.spacedBy(8.dp), verticalArrangement = Arrangement.spacedBy(4.dp)) {
            state.suggestedTags.forEach { tag ->
                val on = tag in draft.tags
                FilterChip(
                    selected = on,
                    onClick = { vm.model.toggleTag(tag) },
                    label = { Text(tag) },
                    leadingIcon = if (on) {
                        { Icon(Icons.Filled.Check, contentDescription = null, modifier = Modifier.size(FilterChipDefaults.IconSize)) }
                    } else {
                        null
                    },
                )
            }
        }
        OutlinedTextField(
            value = newTag,
            onValueChange = { newTag = it },
            label = { Text(stringResource(R.string.today_add_tag)) },
            singleLine = true,
            modifier = Modifier.fillMaxWidth(),
            keyboardOptions = KeyboardOptions(imeAction = ImeAction.Done),
            keyboardActions = KeyboardActions(onDone = {
                vm.model.addTag(newTag)
                newTag = ""
            }),
            trailingIcon = {
                IconButton(
                    onClick = {
                        vm.model.addTag(newTag)
                        newTag = ""
                    },
                    enabled = newTag.isNotBlank(),
                ) { Icon(Icons.Filled.Add, contentDescription = stringResource(R.string.today_add_tag)) }
            },
        )

        OutlinedTextField(
            value = draft.note,
            onValueChange = vm.model::setNote,
            label = { Text(stringResource(R.string.today_note)) },
            supportingText = { Text(stringResource(R.string.today_note_private)) },
            minLines = 3,
            modifier = Modifier.fillMaxWidth(),
            keyboardOptions = KeyboardOptions(capitalization = KeyboardCapitalization.Sentences),
        )

        Button(
            onClick = { vm.act { save() } },
            enabled = state.canSave,
            modifier = Modifier.fillMaxWidth().height(52.dp),
        ) {
            if (state.saving) {
                CircularProgressIndicator(modifier = Modifier.size(20.dp), strokeWidth = 2.dp)
            } else {
                Text(stringResource(R.string.today_save))
            }
        }

        if (state.todaysCheckIns.isNotEmpty()) {
            HorizontalDivider()
            Text(stringResource(R.string.today_earlier), style = MaterialTheme.typography.titleSmall)
            val zone = ZoneId.systemDefault()
            val timeFormat = DateTimeFormatter.ofLocalizedTime(FormatStyle.SHORT)
            state.todaysCheckIns.forEach { c ->
                OutlinedCard(modifier = Modifier.fillMaxWidth()) {
                    Row(
                        modifier = Modifier.padding(12.dp),
                        horizontalArrangement = Arrangement.spacedBy(12.dp),
                        verticalAlignment = Alignment.CenterVertically,
                    ) {
                        Text(timeOf(c.atMs.toLong(), zone).format(timeFormat), style = MaterialTheme.typography.labelLarge)
                        Text(Mood.label(c.mood.toInt()), color = moodColor(c.mood.toInt(), dark))
                        if (c.note.isNotBlank()) {
                            Text(
                                c.note,
                                maxLines = 1,
                                style = MaterialTheme.typography.bodySmall,
                                modifier = Modifier.weight(1f),
                            )
                        }
                    }
                }
            }
        }
        Spacer(Modifier.height(8.dp))
    }
}

/** A slider the member can leave out entirely (the checkbox). */
@Composable
private fun OptionalSlider(
    label: String,
    value: Float?,
    range: ClosedFloatingPointRange<Float>,
    steps: Int,
    default: Float,
    describe: @Composable (Float) -> String,
    onChange: (Float?) -> Unit,
) {
    Column {
        Row(verticalAlignment = Alignment.CenterVertically) {
            Checkbox(checked = value != null, onCheckedChange = { on -> onChange(if (on) default else null) })
            Text(label, style = MaterialTheme.typography.titleSmall, modifier = Modifier.weight(1f))
            if (value != null) Text(describe(value), style = MaterialTheme.typography.bodyMedium)
        }
        if (value != null) {
            Slider(
                value = value,
                onValueChange = { onChange(it) },
                valueRange = range,
                steps = steps,
                modifier = Modifier.padding(horizontal = 12.dp),
            )
        }
    }
}
