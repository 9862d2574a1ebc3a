package org.hearth.app.ui

import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.PaddingValues
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.layout.widthIn
import androidx.compose.foundation.lazy.LazyColumn
import androidx.compose.foundation.lazy.items
import androidx.compose.material.icons.Icons
import androidx.compose.material.icons.filled.Delete
import androidx.compose.material.icons.filled.Home
import androidx.compose.material.icons.filled.Lock
import androidx.compose.material.icons.filled.Phone
import androidx.compose.material3.Button
import androidx.compose.material3.Card
import androidx.compose.material3.Icon
import androidx.compose.material3.IconButton
import androidx.compose.material3.ListItem
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.OutlinedCard
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
import androidx.compose.ui.res.stringResource
import androidx.compose.ui.text.style.TextAlign
import androidx.compose.ui.unit.dp
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import kotlinx.coroutines.delay
import org.hearth.app.R
import org.hearth.app.core.DeviceRole
import org.hearth.app.core.DeviceRow
import org.hearth.app.core.PendingInvite

/**
 * Devices: the phones and tablets that share this journal. "Add a device" shows a
 * one-time QR code for the new device to scan from its welcome screen; a lost or old
 * device can be removed so it sees nothing written from then on.
 */
@Composable
fun DevicesScreen(vm: DevicesViewModel) {
    val state by vm.model.state.collectAsStateWithLifecycle()
    var removing by rememberSaveable { mutableStateOf<String?>(null) }

    LazyColumn(
        modifier = Modifier.fillMaxSize(),
        contentPadding = PaddingValues(horizontal = 20.dp, vertical = 16.dp),
        verticalArrangement = Arrangement.spacedBy(12.dp),
    ) {
        item { ScreenHeader(stringResource(R.string.devices_title), stringResource(R.string.devices_subtitle)) }
        item { MessageCard(state.error, state.notice, vm.model::dismissMessages) }

        item {
            val invite = state.invite
            if (invite == null) {
                Button(onClick = { vm.act { createInvite() } }, enabled = !state.busy, modifier = Modifier.fillMaxWidth()) {
                    Text(stringResource(R.string.devices_add))
                }
            } else {
                InviteCard(invite, onDone = vm.model::dismissInvite)
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
        ConfirmDialog(
            title = stringResource(R.string.devices_remove_title),
            text = stringResource(
                if (row?.role == DeviceRole.HUB) R.string.devices_remove_hub_text else R.string.devices_remove_text,
            ),
            confirm = stringResource(R.string.devices_remove_confirm),
            onConfirm = { vm.act { remove(id) } },
            onDismiss = { removing = null },
        )
    }
}

@Composable
private fun DeviceItem(row: DeviceRow, onRemove: () -> Unit) {
    OutlinedCard(modifier = Modifier.fillMaxWidth()) {
        ListItem(
            leadingContent = {
                Icon(
                    when (row.role) {
                        DeviceRole.HUB -> Icons.Filled.Home
                        DeviceRole.REMOVED -> Icons.Filled.Lock
                        else -> Icons.Filled.Phone
                    },
                    contentDescription = null,
                )
            },
            headlineContent = { Text(row.title) },
            supportingContent = { Text(row.subtitle) },
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
