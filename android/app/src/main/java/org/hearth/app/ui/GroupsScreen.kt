package org.hearth.app.ui

import android.Manifest
import android.content.pm.PackageManager
import android.os.Build
import androidx.activity.compose.rememberLauncherForActivityResult
import androidx.activity.result.contract.ActivityResultContracts
import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.PaddingValues
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.layout.size
import androidx.compose.foundation.lazy.LazyColumn
import androidx.compose.foundation.lazy.items
import androidx.compose.foundation.rememberScrollState
import androidx.compose.foundation.selection.selectable
import androidx.compose.foundation.verticalScroll
import androidx.compose.material3.AlertDialog
import androidx.compose.material3.Card
import androidx.compose.material3.CircularProgressIndicator
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.OutlinedButton
import androidx.compose.material3.OutlinedTextField
import androidx.compose.material3.RadioButton
import androidx.compose.material3.Text
import androidx.compose.material3.TextButton
import androidx.compose.runtime.Composable
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.saveable.rememberSaveable
import androidx.compose.runtime.setValue
import androidx.compose.ui.Alignment
import androidx.compose.ui.Modifier
import androidx.compose.ui.platform.LocalContext
import androidx.compose.ui.res.stringResource
import androidx.compose.ui.semantics.Role
import androidx.compose.ui.unit.dp
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import java.time.Instant
import java.time.ZoneId
import java.time.format.DateTimeFormatter
import java.time.format.FormatStyle
import org.hearth.app.R
import org.hearth.app.core.GroupsModel
import org.hearth.app.core.GroupsState
import org.hearth.app.core.GroupsTask
import org.hearth.app.core.ProposalForm
import org.hearth.app.core.SignUpForm
import org.hearth.ffi.ProgramView
import org.hearth.ffi.ProposalView
import org.hearth.ffi.ResourceView
import org.hearth.ffi.SignUpRecord

/**
 * Groups at the center: the member's sign-ups (with withdraw), programs and their
 * sessions (places left, sign up), members' proposals ("I'm interested", the count),
 * and the resource directory. Rendering only: the state and every word that can be
 * decided in Rust come from [GroupsModel].
 */
@Composable
fun GroupsScreen(vm: GroupsViewModel) {
    val state by vm.model.state.collectAsStateWithLifecycle()
    var withdrawing by rememberSaveable { mutableStateOf<String?>(null) }
    val zone = ZoneId.systemDefault()

    LazyColumn(
        modifier = Modifier.fillMaxSize(),
        contentPadding = PaddingValues(horizontal = 20.dp, vertical = 16.dp),
        verticalArrangement = Arrangement.spacedBy(12.dp),
    ) {
        item { ScreenHeader(stringResource(R.string.groups_title), stringResource(R.string.groups_subtitle)) }
        item { MessageCard(state.error, state.notice, vm.model::dismissMessages) }
        item { StatusCard(state, zone, onRefresh = { vm.act { refresh() } }) }

        state.emptyWords?.let { words -> item { Text(words, style = MaterialTheme.typography.bodyLarge) } }

        if (state.signUps.isNotEmpty()) {
            item { SectionTitle(stringResource(R.string.groups_mine)) }
            items(state.signUps, key = { "signup-" + it.id }) { s ->
                SignUpCard(s, zone, busy = state.task != null, onWithdraw = { withdrawing = s.id })
            }
        }

        if (state.programs.isNotEmpty()) {
            item { SectionTitle(stringResource(R.string.groups_programs)) }
            items(state.programs, key = { "program-" + it.id }) { p ->
                ProgramCard(
                    p,
                    zone,
                    busy = state.task != null,
                    onSignUp = { id -> vm.model.openSignUp(id) },
                    onWithdraw = { id -> withdrawing = id },
                )
            }
        }

        if (state.enrolled && state.loaded) {
            item { SectionTitle(stringResource(R.string.groups_proposals)) }
            item {
                Column(verticalArrangement = Arrangement.spacedBy(8.dp)) {
                    Text(
                        stringResource(R.string.groups_proposals_text),
                        style = MaterialTheme.typography.bodySmall,
                        color = MaterialTheme.colorScheme.onSurfaceVariant,
                    )
                    OutlinedButton(onClick = vm.model::openProposal, enabled = state.task == null) {
                        Text(stringResource(R.string.groups_propose))
                    }
                    if (state.proposals.isEmpty()) Text(stringResource(R.string.groups_no_proposals))
                }
            }
            items(state.proposals, key = { "proposal-" + it.id }) { p ->
                ProposalCard(p, busy = state.task != null, onInterested = { vm.act { interested(p.id) } })
            }

            item { SectionTitle(stringResource(R.string.groups_resources)) }
            if (state.resources.isEmpty()) item { Text(stringResource(R.string.groups_no_resources)) }
            items(state.resources, key = { "resource-" + it.id }) { r -> ResourceCard(r) }
        }
    }

    state.signUpForm?.let { form -> SignUpDialog(form, state, vm) }
    state.proposalForm?.let { form -> ProposalDialog(form, state, vm) }
    withdrawing?.let { id ->
        val title = state.signUp(id)?.title.orEmpty()
        ConfirmDialog(
            title = stringResource(R.string.groups_withdraw_title),
            text = stringResource(R.string.groups_withdraw_text, title),
            confirm = stringResource(R.string.groups_withdraw),
            onConfirm = { vm.act { withdraw(id) } },
            onDismiss = { withdrawing = null },
        )
    }
}

@Composable
private fun SectionTitle(text: String) {
    Text(text, style = MaterialTheme.typography.titleMedium, modifier = Modifier.padding(top = 8.dp))
}

/** Offline or up to date, when the center's list was made, and what the last sync did. */
@Composable
private fun StatusCard(state: GroupsState, zone: ZoneId, onRefresh: () -> Unit) {
    if (!state.enrolled) return
    Card(modifier = Modifier.fillMaxWidth()) {
        Column(modifier = Modifier.padding(16.dp), verticalArrangement = Arrangement.spacedBy(8.dp)) {
            if (state.offline) Text(stringResource(R.string.groups_offline), style = MaterialTheme.typography.bodyMedium)
            state.syncLine?.takeIf { !state.offline }?.let { Text(it, style = MaterialTheme.typography.bodyMedium) }
            state.refusals.forEach { Text(it, style = MaterialTheme.typography.bodyMedium, color = MaterialTheme.colorScheme.error) }
            state.receivedAtMs?.let { at ->
                Text(
                    stringResource(R.string.groups_received, dateTime(at, zone)),
                    style = MaterialTheme.typography.bodySmall,
                    color = MaterialTheme.colorScheme.onSurfaceVariant,
                )
            }
            OutlinedButton(onClick = onRefresh, enabled = state.task == null) {
                if (state.task == GroupsTask.SYNCING) {
                    CircularProgressIndicator(modifier = Modifier.size(20.dp), strokeWidth = 2.dp)
                } else {
                    Text(stringResource(R.string.groups_refresh))
                }
            }
        }
    }
}

@Composable
private fun SignUpCard(s: SignUpRecord, zone: ZoneId, busy: Boolean, onWithdraw: () -> Unit) {
    Card(modifier = Modifier.fillMaxWidth()) {
        Column(modifier = Modifier.padding(16.dp), verticalArrangement = Arrangement.spacedBy(4.dp)) {
            Text(s.title, style = MaterialTheme.typography.titleSmall)
            Text(
                stringResource(R.string.groups_mine_detail, span(s.startsMs.toLong(), s.endsMs.toLong(), zone), s.nickname, s.statusWords),
                style = MaterialTheme.typography.bodyMedium,
            )
            s.remindAtMs?.let { at ->
                Text(
                    stringResource(R.string.groups_reminder_at, dateTime(at.toLong(), zone)),
                    style = MaterialTheme.typography.bodySmall,
                    color = MaterialTheme.colorScheme.onSurfaceVariant,
                )
            }
            if (s.canWithdraw) {
                TextButton(onClick = onWithdraw, enabled = !busy) { Text(stringResource(R.string.groups_withdraw)) }
            }
        }
    }
}

@Composable
private fun ProgramCard(
    p: ProgramView,
    zone: ZoneId,
    busy: Boolean,
    onSignUp: (UInt) -> Unit,
    onWithdraw: (String) -> Unit,
) {
    Card(modifier = Modifier.fillMaxWidth()) {
        Column(modifier = Modifier.padding(16.dp), verticalArrangement = Arrangement.spacedBy(6.dp)) {
            Text(p.title, style = MaterialTheme.typography.titleMedium)
            Text(p.kindLabel, style = MaterialTheme.typography.labelMedium, color = MaterialTheme.colorScheme.primary)
            if (p.description.isNotEmpty()) Text(p.description, style = MaterialTheme.typography.bodyMedium)
            if (p.facts.isNotEmpty()) {
                Text(p.facts, style = MaterialTheme.typography.bodySmall, color = MaterialTheme.colorScheme.onSurfaceVariant)
            }
            if (p.sessions.isEmpty()) Text(stringResource(R.string.groups_no_sessions), style = MaterialTheme.typography.bodySmall)
            p.sessions.forEach { s ->
                Row(verticalAlignment = Alignment.CenterVertically, horizontalArrangement = Arrangement.spacedBy(8.dp)) {
                    Column(modifier = Modifier.weight(1f)) {
                        Text(span(s.startsMs.toLong(), s.endsMs.toLong(), zone), style = MaterialTheme.typography.bodyMedium)
                        Text(s.placesWords, style = MaterialTheme.typography.bodySmall, color = MaterialTheme.colorScheme.onSurfaceVariant)
                    }
                    val mine = s.mySignup
                    when {
                        mine != null -> TextButton(onClick = { onWithdraw(mine) }, enabled = !busy) {
                            Text(stringResource(R.string.groups_withdraw))
                        }
                        s.canSignUp -> OutlinedButton(onClick = { onSignUp(s.id) }, enabled = !busy) {
                            Text(stringResource(R.string.groups_sign_up))
                        }
                    }
                }
            }
        }
    }
}

@Composable
private fun ProposalCard(p: ProposalView, busy: Boolean, onInterested: () -> Unit) {
    Card(modifier = Modifier.fillMaxWidth()) {
        Column(modifier = Modifier.padding(16.dp), verticalArrangement = Arrangement.spacedBy(4.dp)) {
            Text(p.title, style = MaterialTheme.typography.titleSmall)
            if (p.`when`.isNotEmpty()) Text(stringResource(R.string.groups_proposal_when, p.`when`), style = MaterialTheme.typography.bodySmall)
            if (p.note.isNotEmpty()) Text(p.note, style = MaterialTheme.typography.bodyMedium)
            Row(verticalAlignment = Alignment.CenterVertically, horizontalArrangement = Arrangement.spacedBy(8.dp)) {
                Text(p.interestedWords, style = MaterialTheme.typography.bodySmall, modifier = Modifier.weight(1f))
                if (p.adopted) {
                    Text(stringResource(R.string.groups_adopted), style = MaterialTheme.typography.labelMedium)
                } else {
                    OutlinedButton(onClick = onInterested, enabled = !busy) { Text(stringResource(R.string.groups_interested)) }
                }
            }
        }
    }
}

@Composable
private fun ResourceCard(r: ResourceView) {
    Card(modifier = Modifier.fillMaxWidth()) {
        Column(modifier = Modifier.padding(16.dp), verticalArrangement = Arrangement.spacedBy(4.dp)) {
            Text(r.name, style = MaterialTheme.typography.titleSmall)
            Text(r.kindLabel, style = MaterialTheme.typography.labelMedium, color = MaterialTheme.colorScheme.primary)
            listOf(r.description, r.hours, r.contact).filter { it.isNotEmpty() }.forEach {
                Text(it, style = MaterialTheme.typography.bodyMedium)
            }
        }
    }
}

/** Nickname, note, reminder; asks for permission to notify when a reminder is chosen. */
@Composable
private fun SignUpDialog(form: SignUpForm, state: GroupsState, vm: GroupsViewModel) {
    val context = LocalContext.current
    val askToNotify = rememberLauncherForActivityResult(ActivityResultContracts.RequestPermission()) { }
    val zone = ZoneId.systemDefault()
    AlertDialog(
        onDismissRequest = vm.model::closeSignUp,
        title = { Text(stringResource(R.string.groups_signup_title, form.title)) },
        text = {
            Column(
                modifier = Modifier.verticalScroll(rememberScrollState()),
                verticalArrangement = Arrangement.spacedBy(8.dp),
            ) {
                Text(span(form.startsMs, form.endsMs, zone), style = MaterialTheme.typography.bodyMedium)
                Text(form.placesWords, style = MaterialTheme.typography.bodySmall)
                OutlinedTextField(
                    value = form.nickname,
                    onValueChange = vm.model::setNickname,
                    label = { Text(stringResource(R.string.groups_signup_nickname)) },
                    supportingText = { Text(stringResource(R.string.groups_signup_nickname_hint)) },
                    singleLine = true,
                    modifier = Modifier.fillMaxWidth(),
                )
                OutlinedTextField(
                    value = form.note,
                    onValueChange = vm.model::setNote,
                    label = { Text(stringResource(R.string.groups_signup_note)) },
                    modifier = Modifier.fillMaxWidth(),
                )
                Text(stringResource(R.string.groups_signup_reminder), style = MaterialTheme.typography.titleSmall)
                state.reminderChoices.forEach { choice ->
                    val chosen = form.reminder?.minutes == choice.minutes
                    Row(
                        verticalAlignment = Alignment.CenterVertically,
                        modifier = Modifier
                            .fillMaxWidth()
                            .selectable(selected = chosen, role = Role.RadioButton, onClick = { vm.model.setReminder(choice) }),
                    ) {
                        RadioButton(selected = chosen, onClick = null)
                        Text(choice.label, modifier = Modifier.padding(start = 8.dp))
                    }
                }
                Text(
                    stringResource(R.string.groups_signup_reminder_note),
                    style = MaterialTheme.typography.bodySmall,
                    color = MaterialTheme.colorScheme.onSurfaceVariant,
                )
            }
        },
        confirmButton = {
            TextButton(
                onClick = {
                    if (form.reminder?.minutes != null &&
                        Build.VERSION.SDK_INT >= Build.VERSION_CODES.TIRAMISU &&
                        context.checkSelfPermission(Manifest.permission.POST_NOTIFICATIONS) != PackageManager.PERMISSION_GRANTED
                    ) {
                        askToNotify.launch(Manifest.permission.POST_NOTIFICATIONS)
                    }
                    vm.act { submitSignUp() }
                },
                enabled = state.task == null,
            ) {
                if (state.task == GroupsTask.SIGNING_UP) {
                    CircularProgressIndicator(modifier = Modifier.size(20.dp), strokeWidth = 2.dp)
                } else {
                    Text(stringResource(R.string.groups_signup_confirm))
                }
            }
        },
        dismissButton = { TextButton(onClick = vm.model::closeSignUp) { Text(stringResource(R.string.cancel)) } },
    )
}

@Composable
private fun ProposalDialog(form: ProposalForm, state: GroupsState, vm: GroupsViewModel) {
    AlertDialog(
        onDismissRequest = vm.model::closeProposal,
        title = { Text(stringResource(R.string.groups_propose_title)) },
        text = {
            Column(verticalArrangement = Arrangement.spacedBy(8.dp)) {
                OutlinedTextField(
                    value = form.title,
                    onValueChange = { vm.model.setProposal(form.copy(title = it)) },
                    label = { Text(stringResource(R.string.groups_propose_what)) },
                    singleLine = true,
                    modifier = Modifier.fillMaxWidth(),
                )
                OutlinedTextField(
                    value = form.whenText,
                    onValueChange = { vm.model.setProposal(form.copy(whenText = it)) },
                    label = { Text(stringResource(R.string.groups_propose_when)) },
                    singleLine = true,
                    modifier = Modifier.fillMaxWidth(),
                )
                OutlinedTextField(
                    value = form.note,
                    onValueChange = { vm.model.setProposal(form.copy(note = it)) },
                    label = { Text(stringResource(R.string.groups_propose_note)) },
                    modifier = Modifier.fillMaxWidth(),
                )
            }
        },
        confirmButton = {
            TextButton(onClick = { vm.act { submitProposal() } }, enabled = state.task == null && form.title.isNotBlank()) {
                Text(stringResource(R.string.groups_propose_confirm))
            }
        },
        dismissButton = { TextButton(onClick = vm.model::closeProposal) { Text(stringResource(R.string.cancel)) } },
    )
}

private val dateFormat: DateTimeFormatter = DateTimeFormatter.ofLocalizedDate(FormatStyle.MEDIUM)
private val timeFormat: DateTimeFormatter = DateTimeFormatter.ofLocalizedTime(FormatStyle.SHORT)

/** "3 Dec 2025, 15:00" in the device's zone and locale. */
private fun dateTime(atMs: Long, zone: ZoneId): String {
    val t = Instant.ofEpochMilli(atMs).atZone(zone)
    return "${t.format(dateFormat)}, ${t.format(timeFormat)}"
}

/** "3 Dec 2025, 15:00 – 16:00". */
private fun span(startsMs: Long, endsMs: Long, zone: ZoneId): String =
    "${dateTime(startsMs, zone)} – ${Instant.ofEpochMilli(endsMs).atZone(zone).format(timeFormat)}"
