package org.hearth.app.ui

import android.app.DatePickerDialog
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
import androidx.compose.foundation.selection.selectable
import androidx.compose.foundation.selection.toggleable
import androidx.compose.foundation.text.KeyboardOptions
import androidx.compose.foundation.text.selection.SelectionContainer
import androidx.compose.material3.Button
import androidx.compose.material3.ButtonDefaults
import androidx.compose.material3.Card
import androidx.compose.material3.Checkbox
import androidx.compose.material3.CircularProgressIndicator
import androidx.compose.material3.HorizontalDivider
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
import androidx.compose.ui.text.font.FontFamily
import androidx.compose.ui.text.input.KeyboardCapitalization
import androidx.compose.ui.text.style.TextAlign
import androidx.compose.ui.unit.dp
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import java.time.LocalDate
import java.time.format.DateTimeFormatter
import java.time.format.FormatStyle
import org.hearth.app.R
import org.hearth.app.core.ShareForm
import org.hearth.app.core.ShareStep
import org.hearth.app.core.ShareUntil
import org.hearth.app.core.SharingModel
import org.hearth.app.core.SharingState
import org.hearth.app.core.SharingTask
import org.hearth.ffi.CoachCardView
import org.hearth.ffi.ConsentRecord
import org.hearth.ffi.ConsentStatus

/**
 * Sharing: who can see which parts of the plan, since when, until when and why
 * (each consent in the library's words, with its history), "Stop sharing" with a
 * confirmation, and "Share with a coach": scan or paste the coach's card, confirm the
 * name and fingerprint match the coach's screen, choose sections (none chosen to
 * begin with), why and until when, then show the coach the code. A journal without a
 * name first asks for the one the coach will see (any name). Rendering only: the
 * state and the checks are in [SharingModel].
 */
@Composable
fun SharingScreen(vm: SharingViewModel) {
    val state by vm.model.state.collectAsStateWithLifecycle()
    var scanning by rememberSaveable { mutableStateOf(false) }
    var stopping by rememberSaveable { mutableStateOf<String?>(null) }

    LazyColumn(
        modifier = Modifier.fillMaxSize(),
        contentPadding = PaddingValues(horizontal = 20.dp, vertical = 16.dp),
        verticalArrangement = Arrangement.spacedBy(12.dp),
    ) {
        item { ScreenHeader(stringResource(R.string.sharing_title), stringResource(R.string.sharing_subtitle)) }
        item { MessageCard(state.error, state.notice, vm.model::dismissMessages) }

        item {
            when (val step = state.step) {
                null -> StartCard(
                    state,
                    onSaveName = { name -> vm.act { saveName(name) } },
                    onScan = { scanning = true },
                    onPaste = { text -> vm.act { readCard(text) } },
                )
                is ShareStep.Confirm -> ConfirmCard(step.card, onYes = vm.model::confirmCard, onNo = vm.model::notThisCard)
                is ShareStep.Choose -> ChooseCard(step.card, step.form, state, vm)
                is ShareStep.Code -> CodeCard(step.consent, onDone = vm.model::closeSharing)
            }
        }

        item { SectionTitle(stringResource(R.string.sharing_who)) }
        if (state.loaded && state.consents.isEmpty()) {
            item { Text(stringResource(R.string.sharing_none), style = MaterialTheme.typography.bodyMedium) }
        }
        items(state.consents, key = { "consent-" + it.id }) { c ->
            ConsentCard(
                c,
                busy = state.task != null,
                onShowCode = { vm.model.showCode(c.id) },
                onStop = { stopping = c.id },
            )
        }

        if (state.enrolled) {
            item {
                Column(verticalArrangement = Arrangement.spacedBy(4.dp)) {
                    OutlinedButton(onClick = { vm.act { sync() } }, enabled = state.task == null) {
                        if (state.task == SharingTask.SYNCING) {
                            CircularProgressIndicator(modifier = Modifier.size(20.dp), strokeWidth = 2.dp)
                        } else {
                            Text(stringResource(R.string.sharing_sync))
                        }
                    }
                    Text(
                        stringResource(R.string.sharing_sync_text),
                        style = MaterialTheme.typography.bodySmall,
                        color = MaterialTheme.colorScheme.onSurfaceVariant,
                    )
                }
            }
        }
    }

    if (scanning) {
        QrScannerDialog(
            title = stringResource(R.string.sharing_scan_title),
            onResult = { text ->
                scanning = false
                vm.act { readCard(text) }
            },
            onDismiss = { scanning = false },
        )
    }
    stopping?.let { id ->
        val c = state.consent(id) ?: return@let
        ConfirmDialog(
            title = stringResource(R.string.sharing_stop_title, c.coachName),
            text = stringResource(R.string.sharing_stop_text, c.coachName, c.sectionsWords),
            confirm = stringResource(R.string.sharing_stop),
            onConfirm = { vm.act { revoke(id) } },
            onDismiss = { stopping = null },
        )
    }
}

@Composable
private fun SectionTitle(text: String) {
    Text(text, style = MaterialTheme.typography.titleMedium, modifier = Modifier.padding(top = 8.dp))
}

/** "Share with a coach": scan their card, or paste it (once the journal has a name). */
@Composable
private fun StartCard(
    state: SharingState,
    onSaveName: (String) -> Unit,
    onScan: () -> Unit,
    onPaste: (String) -> Unit,
) {
    Card(modifier = Modifier.fillMaxWidth()) {
        Column(modifier = Modifier.padding(16.dp), verticalArrangement = Arrangement.spacedBy(12.dp)) {
            Text(stringResource(R.string.sharing_start_title), style = MaterialTheme.typography.titleMedium)
            if (!state.hasName) {
                NameForm(state, onSaveName)
            } else {
                StartChoices(state, onScan, onPaste)
            }
        }
    }
}

/** The name a coach will see, when the journal has none yet: any name the member likes. */
@Composable
private fun NameForm(state: SharingState, onSave: (String) -> Unit) {
    var typed by rememberSaveable { mutableStateOf("") }
    Column(verticalArrangement = Arrangement.spacedBy(12.dp)) {
        Text(stringResource(R.string.sharing_name_text), style = MaterialTheme.typography.bodyMedium)
        OutlinedTextField(
            value = typed,
            onValueChange = { typed = it },
            label = { Text(stringResource(R.string.sharing_name_label)) },
            supportingText = { Text(stringResource(R.string.sharing_name_hint)) },
            singleLine = true,
            keyboardOptions = KeyboardOptions(capitalization = KeyboardCapitalization.Words),
            modifier = Modifier.fillMaxWidth(),
        )
        Button(onClick = { onSave(typed) }, enabled = typed.isNotBlank() && state.task == null) {
            if (state.task == SharingTask.SAVING_NAME) {
                CircularProgressIndicator(modifier = Modifier.size(20.dp), strokeWidth = 2.dp)
            } else {
                Text(stringResource(R.string.sharing_name_save))
            }
        }
    }
}

@Composable
private fun StartChoices(state: SharingState, onScan: () -> Unit, onPaste: (String) -> Unit) {
    var typed by rememberSaveable { mutableStateOf("") }
    Column(verticalArrangement = Arrangement.spacedBy(12.dp)) {
        Text(stringResource(R.string.sharing_start_text), style = MaterialTheme.typography.bodyMedium)
        if (!state.enrolled) {
            Text(
                stringResource(R.string.sharing_not_enrolled),
                style = MaterialTheme.typography.bodySmall,
                color = MaterialTheme.colorScheme.onSurfaceVariant,
            )
        }
        Button(onClick = onScan, enabled = state.task == null, modifier = Modifier.fillMaxWidth()) {
            if (state.task == SharingTask.READING_CARD) {
                CircularProgressIndicator(modifier = Modifier.size(20.dp), strokeWidth = 2.dp)
            } else {
                Text(stringResource(R.string.sharing_scan))
            }
        }
        OutlinedTextField(
            value = typed,
            onValueChange = { typed = it },
            label = { Text(stringResource(R.string.sharing_paste)) },
            singleLine = true,
            modifier = Modifier.fillMaxWidth(),
        )
        OutlinedButton(
            onClick = {
                onPaste(typed)
                typed = ""
            },
            enabled = typed.isNotBlank() && state.task == null,
        ) { Text(stringResource(R.string.sharing_read)) }
    }
}

/** Whom the card names; the member compares it with the coach's screen before anything is shared. */
@Composable
private fun ConfirmCard(card: CoachCardView, onYes: () -> Unit, onNo: () -> Unit) {
    Card(modifier = Modifier.fillMaxWidth()) {
        Column(modifier = Modifier.padding(16.dp), verticalArrangement = Arrangement.spacedBy(12.dp)) {
            Text(stringResource(R.string.sharing_confirm_title), style = MaterialTheme.typography.titleMedium)
            Text(card.name, style = MaterialTheme.typography.headlineSmall)
            Column {
                Text(stringResource(R.string.sharing_fingerprint), style = MaterialTheme.typography.labelMedium)
                Text(card.fingerprint, style = MaterialTheme.typography.titleMedium, fontFamily = FontFamily.Monospace)
            }
            Text(
                card.words,
                style = MaterialTheme.typography.bodySmall,
                color = MaterialTheme.colorScheme.onSurfaceVariant,
            )
            Text(stringResource(R.string.sharing_confirm_question), style = MaterialTheme.typography.bodyLarge)
            Row(horizontalArrangement = Arrangement.spacedBy(8.dp)) {
                Button(onClick = onYes) { Text(stringResource(R.string.sharing_confirm_yes)) }
                OutlinedButton(onClick = onNo) { Text(stringResource(R.string.sharing_confirm_no)) }
            }
        }
    }
}

/** Which sections (none chosen to begin with), why, and until when. */
@Composable
private fun ChooseCard(card: CoachCardView, form: ShareForm, state: SharingState, vm: SharingViewModel) {
    val context = LocalContext.current
    Card(modifier = Modifier.fillMaxWidth()) {
        Column(modifier = Modifier.padding(16.dp), verticalArrangement = Arrangement.spacedBy(8.dp)) {
            Text(stringResource(R.string.sharing_choose_title, card.name), style = MaterialTheme.typography.titleMedium)
            Text(stringResource(R.string.sharing_choose_what, card.name), style = MaterialTheme.typography.bodyMedium)
            state.sections.forEach { s ->
                val chosen = s.section in form.sections
                Row(
                    verticalAlignment = Alignment.CenterVertically,
                    modifier = Modifier
                        .fillMaxWidth()
                        .toggleable(value = chosen, role = Role.Checkbox, onValueChange = { vm.model.toggleSection(s.section) }),
                ) {
                    Checkbox(checked = chosen, onCheckedChange = null)
                    Text(s.title, modifier = Modifier.padding(start = 8.dp))
                }
            }

            OutlinedTextField(
                value = form.purpose,
                onValueChange = vm.model::setPurpose,
                label = { Text(stringResource(R.string.sharing_purpose)) },
                supportingText = { Text(stringResource(R.string.sharing_purpose_hint)) },
                keyboardOptions = KeyboardOptions(capitalization = KeyboardCapitalization.Sentences),
                modifier = Modifier.fillMaxWidth(),
            )

            Text(stringResource(R.string.sharing_until), style = MaterialTheme.typography.titleSmall)
            UntilChoice(form, ShareUntil.I_STOP_IT, stringResource(R.string.sharing_until_stop), vm)
            UntilChoice(form, ShareUntil.LAST_DAY, stringResource(R.string.sharing_until_day), vm)
            if (form.until == ShareUntil.LAST_DAY) {
                val shown = runCatching {
                    LocalDate.parse(form.lastDay).format(DateTimeFormatter.ofLocalizedDate(FormatStyle.LONG))
                }.getOrNull()
                OutlinedButton(
                    onClick = {
                        val start = runCatching { LocalDate.parse(form.lastDay) }.getOrNull() ?: LocalDate.now().plusMonths(3)
                        DatePickerDialog(
                            context,
                            { _, y, m, d -> vm.model.setLastDay(LocalDate.of(y, m + 1, d).toString()) },
                            start.year,
                            start.monthValue - 1,
                            start.dayOfMonth,
                        ).apply { datePicker.minDate = System.currentTimeMillis() }.show()
                    },
                    modifier = Modifier.padding(start = 40.dp),
                ) { Text(shown ?: stringResource(R.string.sharing_until_day_pick)) }
            }
            UntilChoice(form, ShareUntil.EVENT, stringResource(R.string.sharing_until_event), vm)
            if (form.until == ShareUntil.EVENT) {
                OutlinedTextField(
                    value = form.event,
                    onValueChange = vm.model::setEvent,
                    label = { Text(stringResource(R.string.sharing_until_event_label)) },
                    placeholder = { Text(stringResource(R.string.sharing_until_event_hint)) },
                    singleLine = true,
                    modifier = Modifier.fillMaxWidth().padding(start = 40.dp),
                )
            }

            Text(
                stringResource(R.string.sharing_choose_note),
                style = MaterialTheme.typography.bodySmall,
                color = MaterialTheme.colorScheme.onSurfaceVariant,
            )
            Row(horizontalArrangement = Arrangement.spacedBy(8.dp)) {
                Button(onClick = { vm.act { share() } }, enabled = state.task == null) {
                    if (state.task == SharingTask.SHARING) {
                        CircularProgressIndicator(modifier = Modifier.size(20.dp), strokeWidth = 2.dp)
                    } else {
                        Text(stringResource(R.string.sharing_share))
                    }
                }
                TextButton(onClick = vm.model::closeSharing) { Text(stringResource(R.string.cancel)) }
            }
        }
    }
}

@Composable
private fun UntilChoice(form: ShareForm, choice: ShareUntil, label: String, vm: SharingViewModel) {
    val chosen = form.until == choice
    Row(
        verticalAlignment = Alignment.CenterVertically,
        modifier = Modifier
            .fillMaxWidth()
            .selectable(selected = chosen, role = Role.RadioButton, onClick = { vm.model.setUntil(choice) }),
    ) {
        RadioButton(selected = chosen, onClick = null)
        Text(label, modifier = Modifier.padding(start = 8.dp))
    }
}

/** The code for the coach's device, as a QR code and as text to send. */
@Composable
private fun CodeCard(consent: ConsentRecord, onDone: () -> Unit) {
    val code = consent.shareCode ?: return
    Card(modifier = Modifier.fillMaxWidth()) {
        Column(
            modifier = Modifier.padding(16.dp).fillMaxWidth(),
            horizontalAlignment = Alignment.CenterHorizontally,
            verticalArrangement = Arrangement.spacedBy(12.dp),
        ) {
            Text(stringResource(R.string.sharing_code_title, consent.coachName), style = MaterialTheme.typography.titleMedium)
            Text(
                stringResource(R.string.sharing_code_how),
                style = MaterialTheme.typography.bodyMedium,
                textAlign = TextAlign.Center,
            )
            // Upper case: a denser QR code for the same code (the library reads either).
            QrCode(
                content = code.uppercase(),
                description = stringResource(R.string.sharing_code_qr_description),
                modifier = Modifier.widthIn(max = 280.dp).fillMaxWidth(),
            )
            Text(stringResource(R.string.sharing_code_send), style = MaterialTheme.typography.bodySmall)
            SelectionContainer {
                Text(code, style = MaterialTheme.typography.bodySmall, fontFamily = FontFamily.Monospace)
            }
            Text(
                "${consent.sectionsWords} · ${consent.untilWords}",
                style = MaterialTheme.typography.bodySmall,
                color = MaterialTheme.colorScheme.onSurfaceVariant,
                textAlign = TextAlign.Center,
            )
            TextButton(onClick = onDone) { Text(stringResource(R.string.done)) }
        }
    }
}

/** One consent: whom, what, since and until when, why, where it stands, and its history. */
@Composable
private fun ConsentCard(c: ConsentRecord, busy: Boolean, onShowCode: () -> Unit, onStop: () -> Unit) {
    var open by rememberSaveable(c.id) { mutableStateOf(false) }
    val active = c.status == ConsentStatus.ACTIVE
    Card(modifier = Modifier.fillMaxWidth()) {
        Column(modifier = Modifier.padding(16.dp), verticalArrangement = Arrangement.spacedBy(6.dp)) {
            Text(c.coachName, style = MaterialTheme.typography.titleMedium)
            Text(
                c.statusWords,
                style = MaterialTheme.typography.labelLarge,
                color = when (c.status) {
                    ConsentStatus.ACTIVE -> MaterialTheme.colorScheme.primary
                    ConsentStatus.INVALID -> MaterialTheme.colorScheme.error
                    else -> MaterialTheme.colorScheme.onSurfaceVariant
                },
            )
            Text(stringResource(R.string.sharing_what, c.sectionsWords), style = MaterialTheme.typography.bodyMedium)
            Text(stringResource(R.string.sharing_why, c.purpose), style = MaterialTheme.typography.bodyMedium)
            Text("${c.sinceWords}, ${c.untilWords}", style = MaterialTheme.typography.bodyMedium)
            Text(
                stringResource(R.string.sharing_their_fingerprint, c.coachFingerprint),
                style = MaterialTheme.typography.bodySmall,
                color = MaterialTheme.colorScheme.onSurfaceVariant,
            )
            TextButton(onClick = { open = !open }) {
                Text(stringResource(if (open) R.string.sharing_details_hide else R.string.sharing_details))
            }
            if (open) {
                Text(c.words, style = MaterialTheme.typography.bodySmall)
                HorizontalDivider()
                Text(stringResource(R.string.sharing_history), style = MaterialTheme.typography.titleSmall)
                c.history.forEach { h -> Text("•  ${h.words}", style = MaterialTheme.typography.bodySmall) }
            }
            if (active) {
                Row(horizontalArrangement = Arrangement.spacedBy(8.dp)) {
                    if (c.shareCode != null) {
                        TextButton(onClick = onShowCode) { Text(stringResource(R.string.sharing_show_code)) }
                    }
                    Button(
                        onClick = onStop,
                        enabled = !busy,
                        colors = ButtonDefaults.buttonColors(
                            containerColor = MaterialTheme.colorScheme.error,
                            contentColor = MaterialTheme.colorScheme.onError,
                        ),
                    ) { Text(stringResource(R.string.sharing_stop)) }
                }
            }
        }
    }
}
