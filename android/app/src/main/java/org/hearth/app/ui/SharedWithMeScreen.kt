package org.hearth.app.ui

import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.PaddingValues
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.layout.size
import androidx.compose.foundation.layout.widthIn
import androidx.compose.foundation.lazy.LazyColumn
import androidx.compose.foundation.lazy.items
import androidx.compose.foundation.text.KeyboardOptions
import androidx.compose.material.icons.Icons
import androidx.compose.material.icons.filled.Person
import androidx.compose.material3.Button
import androidx.compose.material3.Card
import androidx.compose.material3.CircularProgressIndicator
import androidx.compose.material3.HorizontalDivider
import androidx.compose.material3.Icon
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
import androidx.compose.ui.text.font.FontFamily
import androidx.compose.ui.text.input.KeyboardCapitalization
import androidx.compose.ui.text.style.TextAlign
import androidx.compose.ui.unit.dp
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import org.hearth.app.R
import org.hearth.app.core.SharedTask
import org.hearth.app.core.SharedWithMeModel
import org.hearth.app.core.SharedWithMeState
import org.hearth.ffi.CoachCardView
import org.hearth.ffi.SharedPlanRecord

/**
 * Shared with me, for a coach: the card a member scans to share with them, adding a
 * plan by the code the member shows, and each plan shared with this device — where
 * it stands, what the member agreed to, the sections, the supporters, the comments,
 * and a comment box while sharing lasts. Rendering only: the state is in
 * [SharedWithMeModel] and every sentence about a share comes from the library.
 */
@Composable
fun SharedWithMeScreen(vm: SharedWithMeViewModel) {
    val state by vm.model.state.collectAsStateWithLifecycle()
    var scanning by rememberSaveable { mutableStateOf(false) }

    LazyColumn(
        modifier = Modifier.fillMaxSize(),
        contentPadding = PaddingValues(horizontal = 20.dp, vertical = 16.dp),
        verticalArrangement = Arrangement.spacedBy(12.dp),
    ) {
        item { ScreenHeader(stringResource(R.string.shared_title), stringResource(R.string.shared_subtitle)) }
        item { MessageCard(state.error, state.notice, vm.model::dismissMessages) }
        item { MyCardCard(state, vm) }
        item { AddCard(state, onScan = { scanning = true }, onAdd = { code -> vm.act { add(code) } }) }

        if (state.loaded && state.shares.isEmpty()) {
            item { Text(stringResource(R.string.shared_none), style = MaterialTheme.typography.bodyMedium) }
        }
        items(state.shares, key = { "share-" + it.id }) { share ->
            SharedPlanCard(
                share,
                busy = state.task != null,
                onComment = { text, sent -> vm.act { if (comment(share.id, text)) sent() } },
            )
        }
        if (state.shares.isNotEmpty()) {
            item {
                OutlinedButton(onClick = { vm.act { sync() } }, enabled = state.task == null) {
                    if (state.task == SharedTask.SYNCING) {
                        CircularProgressIndicator(modifier = Modifier.size(20.dp), strokeWidth = 2.dp)
                    } else {
                        Text(stringResource(R.string.shared_sync))
                    }
                }
            }
        }
    }

    if (scanning) {
        QrScannerDialog(
            title = stringResource(R.string.shared_scan_title),
            onResult = { code ->
                scanning = false
                vm.act { add(code) }
            },
            onDismiss = { scanning = false },
        )
    }
}

/** "Your card as a coach": the name on it, then the QR code and the fingerprint the member compares. */
@Composable
private fun MyCardCard(state: SharedWithMeState, vm: SharedWithMeViewModel) {
    var name by rememberSaveable { mutableStateOf(state.name.orEmpty()) }
    Card(modifier = Modifier.fillMaxWidth()) {
        Column(
            modifier = Modifier.padding(16.dp).fillMaxWidth(),
            verticalArrangement = Arrangement.spacedBy(12.dp),
        ) {
            Text(stringResource(R.string.shared_card_title), style = MaterialTheme.typography.titleMedium)
            val card = state.card
            if (card == null) {
                Text(stringResource(R.string.shared_card_text), style = MaterialTheme.typography.bodyMedium)
                OutlinedTextField(
                    value = name,
                    onValueChange = { name = it },
                    label = { Text(stringResource(R.string.shared_card_name)) },
                    supportingText = { Text(stringResource(R.string.shared_card_name_hint)) },
                    singleLine = true,
                    keyboardOptions = KeyboardOptions(capitalization = KeyboardCapitalization.Words),
                    modifier = Modifier.fillMaxWidth(),
                )
                Button(onClick = { vm.act { showCard(name) } }, enabled = state.task == null) {
                    if (state.task == SharedTask.SHOWING_CARD) {
                        CircularProgressIndicator(modifier = Modifier.size(20.dp), strokeWidth = 2.dp)
                    } else {
                        Text(stringResource(R.string.shared_card_show))
                    }
                }
            } else {
                ShownCard(card, onHide = vm.model::hideCard)
            }
        }
    }
}

@Composable
private fun ShownCard(card: CoachCardView, onHide: () -> Unit) {
    Column(
        modifier = Modifier.fillMaxWidth(),
        horizontalAlignment = Alignment.CenterHorizontally,
        verticalArrangement = Arrangement.spacedBy(12.dp),
    ) {
        // Upper case: a denser QR code for the same card (the library reads either).
        QrCode(
            content = card.text.uppercase(),
            description = stringResource(R.string.shared_card_qr_description),
            modifier = Modifier.widthIn(max = 280.dp).fillMaxWidth(),
        )
        Text(card.name, style = MaterialTheme.typography.titleLarge)
        Text(stringResource(R.string.sharing_fingerprint), style = MaterialTheme.typography.labelMedium)
        Text(card.fingerprint, style = MaterialTheme.typography.titleMedium, fontFamily = FontFamily.Monospace)
        Text(
            stringResource(R.string.shared_card_how),
            style = MaterialTheme.typography.bodyMedium,
            textAlign = TextAlign.Center,
        )
        TextButton(onClick = onHide) { Text(stringResource(R.string.done)) }
    }
}

/** Add a plan by the code the member shows: scan it, or paste it. */
@Composable
private fun AddCard(state: SharedWithMeState, onScan: () -> Unit, onAdd: (String) -> Unit) {
    var typed by rememberSaveable { mutableStateOf("") }
    Card(modifier = Modifier.fillMaxWidth()) {
        Column(modifier = Modifier.padding(16.dp), verticalArrangement = Arrangement.spacedBy(12.dp)) {
            Text(stringResource(R.string.shared_add_title), style = MaterialTheme.typography.titleMedium)
            Text(stringResource(R.string.shared_add_text), style = MaterialTheme.typography.bodyMedium)
            Button(onClick = onScan, enabled = state.task == null, modifier = Modifier.fillMaxWidth()) {
                if (state.task == SharedTask.ADDING) {
                    CircularProgressIndicator(modifier = Modifier.size(20.dp), strokeWidth = 2.dp)
                } else {
                    Text(stringResource(R.string.shared_scan))
                }
            }
            OutlinedTextField(
                value = typed,
                onValueChange = { typed = it },
                label = { Text(stringResource(R.string.shared_paste)) },
                singleLine = true,
                modifier = Modifier.fillMaxWidth(),
            )
            OutlinedButton(
                onClick = {
                    onAdd(typed)
                    typed = ""
                },
                enabled = typed.isNotBlank() && state.task == null,
            ) { Text(stringResource(R.string.shared_add)) }
        }
    }
}

/**
 * One plan: where it stands, what the member agreed to, the sections and supporters,
 * the comments, and a comment box only while sharing lasts. [onComment] gets the
 * text and what to do once it was saved (clear the box).
 */
@Composable
private fun SharedPlanCard(share: SharedPlanRecord, busy: Boolean, onComment: (String, () -> Unit) -> Unit) {
    var showConsent by rememberSaveable(share.id) { mutableStateOf(false) }
    var draft by rememberSaveable(share.id) { mutableStateOf("") }
    Card(modifier = Modifier.fillMaxWidth()) {
        Column(modifier = Modifier.padding(16.dp), verticalArrangement = Arrangement.spacedBy(6.dp)) {
            Text(
                share.memberName ?: stringResource(R.string.shared_someone),
                style = MaterialTheme.typography.titleMedium,
            )
            Text(
                share.statusWords,
                style = MaterialTheme.typography.labelLarge,
                color = if (share.active) MaterialTheme.colorScheme.primary else MaterialTheme.colorScheme.onSurfaceVariant,
            )
            if (share.consentWords != null && !share.consentValid) {
                Text(
                    stringResource(R.string.shared_consent_invalid),
                    style = MaterialTheme.typography.bodyMedium,
                    color = MaterialTheme.colorScheme.error,
                )
            }
            if (share.sectionsWords.isNotEmpty()) {
                Text(stringResource(R.string.sharing_what, share.sectionsWords), style = MaterialTheme.typography.bodyMedium)
            }
            share.purpose?.let { Text(stringResource(R.string.sharing_why, it), style = MaterialTheme.typography.bodyMedium) }
            share.untilWords?.let { Text(it, style = MaterialTheme.typography.bodyMedium) }
            share.consentWords?.let { words ->
                TextButton(onClick = { showConsent = !showConsent }) {
                    Text(stringResource(if (showConsent) R.string.shared_consent_hide else R.string.shared_consent))
                }
                if (showConsent) Text(words, style = MaterialTheme.typography.bodySmall)
            }

            share.sections.forEach { s ->
                HorizontalDivider()
                Text(s.title, style = MaterialTheme.typography.titleSmall)
                if (s.text.isNotBlank()) Text(s.text, style = MaterialTheme.typography.bodyLarge)
                s.items.forEach { item -> Text("•  $item", style = MaterialTheme.typography.bodyLarge) }
                if (s.text.isBlank() && s.items.isEmpty()) {
                    Text(
                        stringResource(R.string.shared_section_empty),
                        style = MaterialTheme.typography.bodySmall,
                        color = MaterialTheme.colorScheme.onSurfaceVariant,
                    )
                }
            }
            if (share.supporters.isNotEmpty()) {
                HorizontalDivider()
                Text(stringResource(R.string.plan_supporters), style = MaterialTheme.typography.titleSmall)
                share.supporters.forEach { s ->
                    Row(verticalAlignment = Alignment.CenterVertically, horizontalArrangement = Arrangement.spacedBy(12.dp)) {
                        Icon(Icons.Filled.Person, contentDescription = null)
                        Column {
                            Text(s.name, style = MaterialTheme.typography.bodyLarge)
                            val line = listOf(s.role, s.contact).filter { it.isNotBlank() }.joinToString(" · ")
                            if (line.isNotEmpty()) Text(line, style = MaterialTheme.typography.bodySmall)
                        }
                    }
                }
            }

            if (share.comments.isNotEmpty() || share.active) {
                HorizontalDivider()
                Text(stringResource(R.string.shared_comments), style = MaterialTheme.typography.titleSmall)
            }
            share.comments.forEach { c ->
                Column {
                    Text(
                        if (c.byMe) stringResource(R.string.shared_comment_mine, c.dayWords) else c.dayWords,
                        style = MaterialTheme.typography.labelMedium,
                        color = MaterialTheme.colorScheme.onSurfaceVariant,
                    )
                    Text(c.text, style = MaterialTheme.typography.bodyMedium)
                }
            }
            if (share.active) {
                OutlinedTextField(
                    value = draft,
                    onValueChange = { draft = it },
                    label = { Text(stringResource(R.string.shared_comment_label)) },
                    supportingText = { Text(stringResource(R.string.shared_comment_hint)) },
                    keyboardOptions = KeyboardOptions(capitalization = KeyboardCapitalization.Sentences),
                    modifier = Modifier.fillMaxWidth(),
                )
                OutlinedButton(
                    onClick = { onComment(draft) { draft = "" } },
                    enabled = draft.isNotBlank() && !busy,
                ) { Text(stringResource(R.string.shared_comment_send)) }
            }
        }
    }
}
