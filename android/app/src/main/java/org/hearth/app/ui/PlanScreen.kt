package org.hearth.app.ui

import androidx.annotation.StringRes
import androidx.compose.foundation.clickable
import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.PaddingValues
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.lazy.LazyColumn
import androidx.compose.foundation.lazy.items
import androidx.compose.foundation.text.KeyboardOptions
import androidx.compose.material.icons.Icons
import androidx.compose.material.icons.filled.Add
import androidx.compose.material.icons.filled.Close
import androidx.compose.material.icons.filled.Edit
import androidx.compose.material.icons.filled.KeyboardArrowDown
import androidx.compose.material.icons.filled.KeyboardArrowUp
import androidx.compose.material.icons.filled.Person
import androidx.compose.material3.AlertDialog
import androidx.compose.material3.Card
import androidx.compose.material3.HorizontalDivider
import androidx.compose.material3.Icon
import androidx.compose.material3.IconButton
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.OutlinedButton
import androidx.compose.material3.OutlinedTextField
import androidx.compose.material3.Text
import androidx.compose.material3.TextButton
import androidx.compose.runtime.Composable
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.saveable.rememberSaveable
import androidx.compose.runtime.setValue
import androidx.compose.ui.Alignment
import androidx.compose.ui.Modifier
import androidx.compose.ui.res.stringResource
import androidx.compose.ui.text.input.KeyboardCapitalization
import androidx.compose.ui.unit.dp
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import org.hearth.app.R
import org.hearth.app.core.PlanState
import org.hearth.ffi.CoachComment
import org.hearth.ffi.PlanSection
import org.hearth.ffi.PlanSectionView
import org.hearth.ffi.Supporter

/** A line under each section's title saying what goes in it. */
@StringRes
private fun promptOf(section: PlanSection): Int = when (section) {
    PlanSection.TOOLBOX -> R.string.plan_prompt_toolbox
    PlanSection.DAILY -> R.string.plan_prompt_daily
    PlanSection.TRIGGERS -> R.string.plan_prompt_triggers
    PlanSection.WARNING_SIGNS -> R.string.plan_prompt_warning_signs
    PlanSection.BREAKDOWN -> R.string.plan_prompt_breakdown
    PlanSection.CRISIS -> R.string.plan_prompt_crisis
    PlanSection.POST_CRISIS -> R.string.plan_prompt_post_crisis
    PlanSection.GOALS -> R.string.plan_prompt_goals
    PlanSection.STRENGTHS -> R.string.plan_prompt_strengths
}

/**
 * My Plan: the nine WRAP sections, each opened to read and edit; what coaches wrote
 * about the sections the member shares; and the way to Sharing ([onOpenSharing]).
 */
@Composable
fun PlanScreen(vm: PlanViewModel, onOpenSharing: () -> Unit) {
    val state by vm.model.state.collectAsStateWithLifecycle()
    var open by rememberSaveable { mutableStateOf<String?>(null) }
    var editingText by rememberSaveable { mutableStateOf<String?>(null) }
    var removing by rememberSaveable { mutableStateOf<Pair<String, Int>?>(null) }
    var addingSupporter by rememberSaveable { mutableStateOf(false) }

    LazyColumn(
        modifier = Modifier.fillMaxSize(),
        contentPadding = PaddingValues(horizontal = 20.dp, vertical = 16.dp),
        verticalArrangement = Arrangement.spacedBy(12.dp),
    ) {
        item {
            ScreenHeader(
                stringResource(R.string.plan_title),
                stringResource(R.string.plan_subtitle, state.sectionsStarted, state.sections.size.coerceAtLeast(9)),
            )
        }
        item { MessageCard(state.error, null, vm.model::dismissError) }
        item { SharingEntry(onOpenSharing) }
        if (state.coachComments.isNotEmpty()) {
            item { CoachCommentsCard(state.coachComments) }
        }
        items(state.sections, key = { it.section.name }) { section ->
            SectionCard(
                section = section,
                supporters = if (section.section == PlanSection.CRISIS) state.supporters else null,
                expanded = open == section.section.name,
                busy = state.busy,
                onToggle = { open = if (open == section.section.name) null else section.section.name },
                onEditText = { editingText = section.section.name },
                onAddItem = { item -> vm.act { addItem(section.section, item) } },
                onRemoveItem = { index -> removing = section.section.name to index },
                onAddSupporter = { addingSupporter = true },
            )
        }
    }

    editingText?.let { name ->
        val section = state.sectionNamed(name) ?: return@let
        EditTextDialog(
            title = section.title,
            initial = section.text,
            onSave = { text -> vm.act { saveText(section.section, text) } },
            onDismiss = { editingText = null },
        )
    }
    removing?.let { (name, index) ->
        val section = state.sectionNamed(name) ?: return@let
        val item = section.items.getOrNull(index) ?: return@let
        ConfirmDialog(
            title = stringResource(R.string.plan_remove_title),
            text = stringResource(R.string.plan_remove_text, item),
            confirm = stringResource(R.string.plan_remove_confirm),
            onConfirm = { vm.act { removeItem(section.section, index) } },
            onDismiss = { removing = null },
        )
    }
    if (addingSupporter) {
        SupporterDialog(
            onSave = { n, r, c -> vm.act { addSupporter(n, r, c) } },
            onDismiss = { addingSupporter = false },
        )
    }
}

/** Who can see the plan, and "Share with a coach". */
@Composable
private fun SharingEntry(onOpen: () -> Unit) {
    Card(modifier = Modifier.fillMaxWidth()) {
        Column(modifier = Modifier.padding(16.dp), verticalArrangement = Arrangement.spacedBy(8.dp)) {
            Text(stringResource(R.string.plan_sharing_title), style = MaterialTheme.typography.titleMedium)
            Text(stringResource(R.string.plan_sharing_text), style = MaterialTheme.typography.bodyMedium)
            OutlinedButton(onClick = onOpen, modifier = Modifier.fillMaxWidth()) {
                Text(stringResource(R.string.plan_sharing_open))
            }
        }
    }
}

/** What coaches wrote about the shared sections, oldest first; the words come from the library. */
@Composable
private fun CoachCommentsCard(comments: List<CoachComment>) {
    Card(modifier = Modifier.fillMaxWidth()) {
        Column(modifier = Modifier.padding(16.dp), verticalArrangement = Arrangement.spacedBy(8.dp)) {
            Text(stringResource(R.string.plan_coach_comments), style = MaterialTheme.typography.titleMedium)
            comments.forEach { c ->
                Column {
                    Text(
                        stringResource(R.string.plan_coach_comment_from, c.coachName, c.dayWords),
                        style = MaterialTheme.typography.labelMedium,
                        color = MaterialTheme.colorScheme.primary,
                    )
                    Text(c.text, style = MaterialTheme.typography.bodyLarge)
                }
            }
        }
    }
}

private fun PlanState.sectionNamed(name: String): PlanSectionView? = sections.firstOrNull { it.section.name == name }

@Composable
private fun SectionCard(
    section: PlanSectionView,
    supporters: List<Supporter>?,
    expanded: Boolean,
    busy: Boolean,
    onToggle: () -> Unit,
    onEditText: () -> Unit,
    onAddItem: (String) -> Unit,
    onRemoveItem: (Int) -> Unit,
    onAddSupporter: () -> Unit,
) {
    Card(modifier = Modifier.fillMaxWidth()) {
        Column(modifier = Modifier.padding(16.dp), verticalArrangement = Arrangement.spacedBy(8.dp)) {
            Row(
                modifier = Modifier.fillMaxWidth().clickable(onClick = onToggle),
                verticalAlignment = Alignment.CenterVertically,
            ) {
                Column(modifier = Modifier.weight(1f)) {
                    Text(section.title, style = MaterialTheme.typography.titleMedium)
                    Text(
                        stringResource(promptOf(section.section)),
                        style = MaterialTheme.typography.bodySmall,
                        color = MaterialTheme.colorScheme.onSurfaceVariant,
                    )
                }
                Icon(
                    if (expanded) Icons.Filled.KeyboardArrowUp else Icons.Filled.KeyboardArrowDown,
                    contentDescription = null,
                )
            }
            if (!expanded) {
                val count = section.items.size
                if (count > 0 || section.text.isNotBlank()) {
                    Text(
                        if (section.text.isNotBlank()) section.text else stringResource(R.string.plan_items_count, count),
                        maxLines = 2,
                        style = MaterialTheme.typography.bodyMedium,
                    )
                }
            } else {
                SectionBody(section, supporters, busy, onEditText, onAddItem, onRemoveItem, onAddSupporter)
            }
        }
    }
}

@Composable
private fun SectionBody(
    section: PlanSectionView,
    supporters: List<Supporter>?,
    busy: Boolean,
    onEditText: () -> Unit,
    onAddItem: (String) -> Unit,
    onRemoveItem: (Int) -> Unit,
    onAddSupporter: () -> Unit,
) {
    Column(verticalArrangement = Arrangement.spacedBy(8.dp)) {
        // The free text.
        Row(verticalAlignment = Alignment.Top) {
            Text(
                section.text.ifBlank { stringResource(R.string.plan_text_empty) },
                style = MaterialTheme.typography.bodyLarge,
                color = if (section.text.isBlank()) MaterialTheme.colorScheme.onSurfaceVariant else MaterialTheme.colorScheme.onSurface,
                modifier = Modifier.weight(1f),
            )
            IconButton(onClick = onEditText, enabled = !busy) {
                Icon(Icons.Filled.Edit, contentDescription = stringResource(R.string.plan_edit_text))
            }
        }

        // The items.
        if (section.items.isNotEmpty()) HorizontalDivider()
        section.items.forEachIndexed { index, item ->
            Row(verticalAlignment = Alignment.CenterVertically) {
                Text("•  $item", style = MaterialTheme.typography.bodyLarge, modifier = Modifier.weight(1f))
                IconButton(onClick = { onRemoveItem(index) }, enabled = !busy) {
                    Icon(Icons.Filled.Close, contentDescription = stringResource(R.string.plan_remove_title))
                }
            }
        }
        var newItem by rememberSaveable(section.section.name) { mutableStateOf("") }
        OutlinedTextField(
            value = newItem,
            onValueChange = { newItem = it },
            label = { Text(stringResource(R.string.plan_add_item)) },
            singleLine = true,
            modifier = Modifier.fillMaxWidth(),
            keyboardOptions = KeyboardOptions(capitalization = KeyboardCapitalization.Sentences),
            trailingIcon = {
                IconButton(
                    onClick = {
                        onAddItem(newItem)
                        newItem = ""
                    },
                    enabled = newItem.isNotBlank() && !busy,
                ) { Icon(Icons.Filled.Add, contentDescription = stringResource(R.string.plan_add_item)) }
            },
        )

        // The crisis plan's supporters.
        if (supporters != null) {
            HorizontalDivider()
            Text(stringResource(R.string.plan_supporters), style = MaterialTheme.typography.titleSmall)
            supporters.forEach { s ->
                Row(verticalAlignment = Alignment.CenterVertically, horizontalArrangement = Arrangement.spacedBy(12.dp)) {
                    Icon(Icons.Filled.Person, contentDescription = null)
                    Column {
                        Text(s.name, style = MaterialTheme.typography.bodyLarge)
                        val line = listOf(s.role, s.contact).filter { it.isNotBlank() }.joinToString(" · ")
                        if (line.isNotEmpty()) Text(line, style = MaterialTheme.typography.bodySmall)
                    }
                }
            }
            OutlinedButton(onClick = onAddSupporter, enabled = !busy) { Text(stringResource(R.string.plan_add_supporter)) }
        }
    }
}

@Composable
private fun EditTextDialog(title: String, initial: String, onSave: (String) -> Unit, onDismiss: () -> Unit) {
    var text by rememberSaveable { mutableStateOf(initial) }
    AlertDialog(
        onDismissRequest = onDismiss,
        title = { Text(title) },
        text = {
            OutlinedTextField(
                value = text,
                onValueChange = { text = it },
                minLines = 4,
                modifier = Modifier.fillMaxWidth(),
                keyboardOptions = KeyboardOptions(capitalization = KeyboardCapitalization.Sentences),
            )
        },
        confirmButton = {
            TextButton(onClick = {
                onSave(text)
                onDismiss()
            }) { Text(stringResource(R.string.save)) }
        },
        dismissButton = { TextButton(onClick = onDismiss) { Text(stringResource(R.string.cancel)) } },
    )
}

@Composable
private fun SupporterDialog(onSave: (String, String, String) -> Unit, onDismiss: () -> Unit) {
    var name by rememberSaveable { mutableStateOf("") }
    var role by rememberSaveable { mutableStateOf("") }
    var contact by rememberSaveable { mutableStateOf("") }
    AlertDialog(
        onDismissRequest = onDismiss,
        title = { Text(stringResource(R.string.plan_add_supporter)) },
        text = {
            Column(verticalArrangement = Arrangement.spacedBy(8.dp)) {
                OutlinedTextField(name, { name = it }, label = { Text(stringResource(R.string.plan_supporter_name)) }, singleLine = true)
                OutlinedTextField(role, { role = it }, label = { Text(stringResource(R.string.plan_supporter_role)) }, singleLine = true)
                OutlinedTextField(contact, { contact = it }, label = { Text(stringResource(R.string.plan_supporter_contact)) }, singleLine = true)
            }
        },
        confirmButton = {
            TextButton(
                onClick = {
                    onSave(name, role, contact)
                    onDismiss()
                },
                enabled = name.isNotBlank(),
            ) { Text(stringResource(R.string.save)) }
        },
        dismissButton = { TextButton(onClick = onDismiss) { Text(stringResource(R.string.cancel)) } },
    )
}
