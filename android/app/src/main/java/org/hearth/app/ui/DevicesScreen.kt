package org.hearth.app.ui

import androidx.activity.compose.rememberLauncherForActivityResult
import androidx.activity.result.contract.ActivityResultContracts
import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.PaddingValues
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.layout.widthIn
import androidx.compose.foundation.lazy.LazyColumn
import androidx.compose.foundation.lazy.items
import androidx.compose.foundation.text.KeyboardOptions
import androidx.compose.material.icons.Icons
import androidx.compose.material.icons.filled.Delete
import androidx.compose.material.icons.filled.Home
import androidx.compose.material.icons.filled.Lock
import androidx.compose.material.icons.filled.Phone
import androidx.compose.material.icons.filled.Warning
import androidx.compose.material3.AlertDialog
import androidx.compose.material3.Button
import androidx.compose.material3.Card
import androidx.compose.material3.CardDefaults
import androidx.compose.material3.CircularProgressIndicator
import androidx.compose.material3.Icon
import androidx.compose.material3.IconButton
import androidx.compose.material3.ListItem
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.OutlinedButton
import androidx.compose.material3.OutlinedCard
import androidx.compose.material3.OutlinedTextField
import androidx.compose.material3.Text
import androidx.compose.material3.TextButton
import androidx.compose.runtime.Composable
import androidx.compose.runtime.LaunchedEffect
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableLongStateOf
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.remember
import androidx.compose.runtime.saveable.rememberSaveable
import androidx.compose.runtime.setValue
import androidx.compose.ui.Alignment
import androidx.compose.ui.Modifier
import androidx.compose.ui.platform.LocalContext
import androidx.compose.ui.res.stringResource
import androidx.compose.ui.text.font.FontFamily
import androidx.compose.ui.text.input.KeyboardType
import androidx.compose.ui.text.input.PasswordVisualTransformation
import androidx.compose.ui.text.style.TextAlign
import androidx.compose.ui.unit.dp
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import kotlinx.coroutines.delay
import org.hearth.app.R
import org.hearth.app.core.DeviceRow
import org.hearth.app.core.DevicesNotice
import org.hearth.app.core.JoinRequest
import org.hearth.app.core.PendingInvite
import org.hearth.ffi.BackupState
import org.hearth.ffi.DeviceKind
import org.hearth.ffi.DeviceRole
import org.hearth.ffi.minPassphraseChars

/** What the backup file is called when the member saves it. */
private const val BACKUP_FILE_NAME = "hearth-backup"

/**
 * Devices: every identity that can reach this journal (the member's phones and
 * tablets, backup keys, the center's hub) with what it is and whether it still has
 * access. "Add a device" shows a one-time QR code; when the new device presents it,
 * both show one code and the member compares them before it is added. A lost or old
 * device can be removed so it sees nothing written from then on; the library's advice
 * about backups shows at the top, with a way to make one.
 */
@Composable
fun DevicesScreen(vm: DevicesViewModel) {
    val state by vm.model.state.collectAsStateWithLifecycle()
    val context = LocalContext.current
    var removing by rememberSaveable { mutableStateOf<String?>(null) }
    var askingPassphrase by rememberSaveable { mutableStateOf(false) }
    // Held only while the member picks where to save; never saved with the screen's state.
    var passphrase by remember { mutableStateOf<String?>(null) }
    val notSaved = stringResource(R.string.devices_backup_not_saved)

    val saveBackup = rememberLauncherForActivityResult(
        ActivityResultContracts.CreateDocument("application/octet-stream"),
    ) { uri ->
        val p = passphrase
        passphrase = null
        if (uri != null && p != null) {
            vm.makeBackup(p, notSaved) { bytes ->
                context.contentResolver.openOutputStream(uri, "wt")?.use { it.write(bytes) }
                    ?: error("no stream for $uri")
            }
        }
    }

    LazyColumn(
        modifier = Modifier.fillMaxSize(),
        contentPadding = PaddingValues(horizontal = 20.dp, vertical = 16.dp),
        verticalArrangement = Arrangement.spacedBy(12.dp),
    ) {
        item { ScreenHeader(stringResource(R.string.devices_title), stringResource(R.string.devices_subtitle)) }
        if (state.thisDeviceRemoved) {
            item { Banner(stringResource(R.string.devices_this_removed)) }
        }
        state.backupAdvice?.let { advice ->
            item {
                Banner(advice) {
                    Button(onClick = { askingPassphrase = true }, enabled = !state.busy) {
                        Text(stringResource(R.string.devices_backup_make))
                    }
                }
            }
        }
        item { MessageCard(state.error, state.notice?.let { noticeText(it) }, vm.model::dismissMessages) }

        item {
            val request = state.joinRequest
            val invite = state.invite
            when {
                request != null -> JoinRequestCard(
                    request,
                    busy = state.busy,
                    onSame = { vm.act { answerJoin(sameCode = true) } },
                    onDifferent = { vm.act { answerJoin(sameCode = false) } },
                )
                state.adding -> AddingCard()
                invite != null -> InviteCard(invite, onDone = vm.model::dismissInvite)
                else -> Button(
                    onClick = { vm.act { createInvite() } },
                    enabled = !state.busy && !state.thisDeviceRemoved,
                    modifier = Modifier.fillMaxWidth(),
                ) {
                    Text(stringResource(R.string.devices_add))
                }
            }
        }

        items(state.devices, key = { it.id }) { row ->
            DeviceItem(row, onRemove = { removing = row.id })
        }

        item {
            Text(
                stringResource(R.string.devices_join_hint),
                style = MaterialTheme.typography.bodySmall,
                color = MaterialTheme.colorScheme.onSurfaceVariant,
            )
        }
    }

    removing?.let { id ->
        val row = state.devices.firstOrNull { it.id == id }
        val consequence = stringResource(
            when (row?.info?.kind) {
                DeviceKind.HUB -> R.string.devices_remove_hub_text
                DeviceKind.BACKUP_KEY -> R.string.devices_remove_backup_key_text
                else -> R.string.devices_remove_text
            },
        )
        ConfirmDialog(
            title = stringResource(R.string.devices_remove_title),
            text = if (state.backupState == BackupState.CURRENT && row?.info?.kind != DeviceKind.BACKUP_KEY) {
                consequence + "\n\n" + stringResource(R.string.devices_remove_backups_note)
            } else {
                consequence
            },
            confirm = stringResource(R.string.devices_remove_confirm),
            onConfirm = { vm.act { remove(id) } },
            onDismiss = { removing = null },
        )
    }

    if (askingPassphrase) {
        BackupPassphraseDialog(
            onNext = { p ->
                askingPassphrase = false
                passphrase = p
                saveBackup.launch(BACKUP_FILE_NAME)
            },
            onDismiss = { askingPassphrase = false },
        )
    }
}

@Composable
private fun noticeText(notice: DevicesNotice): String = when (notice) {
    is DevicesNotice.Joined -> stringResource(R.string.devices_joined, notice.device)
    DevicesNotice.TurnedAway -> stringResource(R.string.devices_turned_away)
    is DevicesNotice.Removed -> if (notice.skipped.isEmpty()) {
        stringResource(R.string.devices_removed)
    } else {
        stringResource(R.string.devices_removed) + " " +
            stringResource(R.string.devices_removed_skipped, notice.skipped.joinToString(", "))
    }
    DevicesNotice.BackupSaved -> stringResource(R.string.devices_backup_saved)
}

/** Something the member should act on, in the library's or the app's words. */
@Composable
private fun Banner(text: String, action: (@Composable () -> Unit)? = null) {
    Card(
        modifier = Modifier.fillMaxWidth(),
        colors = CardDefaults.cardColors(
            containerColor = MaterialTheme.colorScheme.tertiaryContainer,
            contentColor = MaterialTheme.colorScheme.onTertiaryContainer,
        ),
    ) {
        Column(modifier = Modifier.padding(16.dp), verticalArrangement = Arrangement.spacedBy(12.dp)) {
            Row(horizontalArrangement = Arrangement.spacedBy(12.dp), verticalAlignment = Alignment.Top) {
                Icon(Icons.Filled.Warning, contentDescription = null)
                Text(text, style = MaterialTheme.typography.bodyMedium)
            }
            action?.invoke()
        }
    }
}

@Composable
private fun DeviceItem(row: DeviceRow, onRemove: () -> Unit) {
    val info = row.info
    val title = when {
        info.thisDevice -> stringResource(R.string.devices_this_device)
        info.kind == DeviceKind.HUB -> stringResource(R.string.devices_hub)
        info.kind == DeviceKind.BACKUP_KEY -> stringResource(R.string.devices_backup_key)
        else -> stringResource(R.string.devices_device, info.shortId)
    }
    val what = if (row.active) {
        stringResource(
            when (info.role) {
                DeviceRole.OWNER, DeviceRole.WRITER -> R.string.devices_role_writes
                DeviceRole.READER -> R.string.devices_role_reads
                DeviceRole.STORE -> R.string.devices_role_store
                DeviceRole.RECOVERY -> R.string.devices_role_recovery
                DeviceRole.COMMENTER -> R.string.devices_role_comments
            },
        )
    } else {
        // The library's words for it ("removed", or removed in a conflict and why).
        info.stateLabel.replaceFirstChar { it.titlecase() }
    }
    val tint = if (row.active) MaterialTheme.colorScheme.onSurface else MaterialTheme.colorScheme.outline
    OutlinedCard(modifier = Modifier.fillMaxWidth()) {
        ListItem(
            leadingContent = {
                Icon(
                    when (info.kind) {
                        DeviceKind.HUB -> Icons.Filled.Home
                        DeviceKind.BACKUP_KEY -> Icons.Filled.Lock
                        DeviceKind.DEVICE -> Icons.Filled.Phone
                    },
                    contentDescription = info.kindLabel,
                    tint = tint,
                )
            },
            headlineContent = { Text(title) },
            supportingContent = { Text(stringResource(R.string.devices_row_detail, what, info.shortId)) },
            trailingContent = if (row.canRemove) {
                {
                    IconButton(onClick = onRemove) {
                        Icon(Icons.Filled.Delete, contentDescription = stringResource(R.string.devices_remove_title))
                    }
                }
            } else {
                null
            },
        )
    }
}

/** A device presented the invite: the code to compare, and the member's two answers. */
@Composable
private fun JoinRequestCard(request: JoinRequest, busy: Boolean, onSame: () -> Unit, onDifferent: () -> Unit) {
    Card(modifier = Modifier.fillMaxWidth()) {
        Column(
            modifier = Modifier.padding(16.dp).fillMaxWidth(),
            horizontalAlignment = Alignment.CenterHorizontally,
            verticalArrangement = Arrangement.spacedBy(12.dp),
        ) {
            Text(stringResource(R.string.devices_request_title), style = MaterialTheme.typography.titleMedium)
            Text(
                stringResource(R.string.devices_request_compare),
                style = MaterialTheme.typography.bodyMedium,
                textAlign = TextAlign.Center,
            )
            PairingCode(request.code)
            Button(onClick = onSame, enabled = !busy, modifier = Modifier.fillMaxWidth()) {
                Text(stringResource(R.string.devices_request_same))
            }
            OutlinedButton(onClick = onDifferent, enabled = !busy, modifier = Modifier.fillMaxWidth()) {
                Text(stringResource(R.string.devices_request_different))
            }
            Text(
                stringResource(R.string.devices_request_why),
                style = MaterialTheme.typography.bodySmall,
                color = MaterialTheme.colorScheme.onSurfaceVariant,
                textAlign = TextAlign.Center,
            )
        }
    }
}

/** The six digits both devices show, large and spaced ("123 456"). */
@Composable
fun PairingCode(code: String, modifier: Modifier = Modifier) {
    Text(
        code,
        style = MaterialTheme.typography.displayMedium,
        fontFamily = FontFamily.Monospace,
        modifier = modifier,
    )
}

/** The member said yes: the new device is being added. */
@Composable
private fun AddingCard() {
    Card(modifier = Modifier.fillMaxWidth()) {
        Row(
            modifier = Modifier.padding(16.dp).fillMaxWidth(),
            horizontalArrangement = Arrangement.spacedBy(16.dp),
            verticalAlignment = Alignment.CenterVertically,
        ) {
            CircularProgressIndicator()
            Text(stringResource(R.string.devices_adding), style = MaterialTheme.typography.bodyMedium)
        }
    }
}

/** The invite's QR code, how to use it, and how long it has left. */
@Composable
private fun InviteCard(invite: PendingInvite, onDone: () -> Unit) {
    var now by remember { mutableLongStateOf(System.currentTimeMillis()) }
    LaunchedEffect(invite) {
        while (now < invite.expiresAtMs) {
            delay(1_000)
            now = System.currentTimeMillis()
        }
    }
    val secondsLeft = ((invite.expiresAtMs - now) / 1000).coerceAtLeast(0)
    Card(modifier = Modifier.fillMaxWidth()) {
        Column(
            modifier = Modifier.padding(16.dp).fillMaxWidth(),
            horizontalAlignment = Alignment.CenterHorizontally,
            verticalArrangement = Arrangement.spacedBy(12.dp),
        ) {
            Text(stringResource(R.string.devices_invite_title), style = MaterialTheme.typography.titleMedium)
            if (secondsLeft > 0) {
                QrCode(
                    content = invite.qrContent,
                    description = stringResource(R.string.devices_invite_qr_description),
                    modifier = Modifier.widthIn(max = 280.dp).fillMaxWidth(),
                )
                Text(
                    stringResource(R.string.devices_invite_how),
                    style = MaterialTheme.typography.bodyMedium,
                    textAlign = TextAlign.Center,
                )
                Text(
                    stringResource(R.string.devices_invite_left, secondsLeft / 60, secondsLeft % 60),
                    style = MaterialTheme.typography.labelLarge,
                )
            } else {
                Text(stringResource(R.string.devices_invite_expired), textAlign = TextAlign.Center)
            }
            TextButton(onClick = onDone) { Text(stringResource(R.string.done)) }
        }
    }
}

/** A new backup's passphrase, typed twice; then the member picks where to save it. */
@Composable
private fun BackupPassphraseDialog(onNext: (String) -> Unit, onDismiss: () -> Unit) {
    val min = remember { minPassphraseChars().toInt() }
    var first by remember { mutableStateOf("") }
    var again by remember { mutableStateOf("") }
    val longEnough = first.codePointCount(0, first.length) >= min
    AlertDialog(
        onDismissRequest = onDismiss,
        title = { Text(stringResource(R.string.devices_backup_title)) },
        text = {
            Column(verticalArrangement = Arrangement.spacedBy(12.dp)) {
                Text(stringResource(R.string.devices_backup_text, min))
                OutlinedTextField(
                    value = first,
                    onValueChange = { first = it },
                    label = { Text(stringResource(R.string.devices_backup_passphrase)) },
                    singleLine = true,
                    visualTransformation = PasswordVisualTransformation(),
                    keyboardOptions = KeyboardOptions(keyboardType = KeyboardType.Password),
                    modifier = Modifier.fillMaxWidth(),
                )
                OutlinedTextField(
                    value = again,
                    onValueChange = { again = it },
                    label = { Text(stringResource(R.string.devices_backup_again)) },
                    singleLine = true,
                    isError = again.isNotEmpty() && again != first,
                    visualTransformation = PasswordVisualTransformation(),
                    keyboardOptions = KeyboardOptions(keyboardType = KeyboardType.Password),
                    modifier = Modifier.fillMaxWidth(),
                )
            }
        },
        confirmButton = {
            TextButton(onClick = { onNext(first) }, enabled = longEnough && again == first) {
                Text(stringResource(R.string.devices_backup_next))
            }
        },
        dismissButton = { TextButton(onClick = onDismiss) { Text(stringResource(R.string.cancel)) } },
    )
}
