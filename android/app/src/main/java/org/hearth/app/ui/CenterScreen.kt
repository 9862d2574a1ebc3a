package org.hearth.app.ui

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
import androidx.compose.material3.Button
import androidx.compose.material3.Card
import androidx.compose.material3.CircularProgressIndicator
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.OutlinedButton
import androidx.compose.material3.OutlinedTextField
import androidx.compose.material3.Switch
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.saveable.rememberSaveable
import androidx.compose.runtime.setValue
import androidx.compose.ui.Alignment
import androidx.compose.ui.Modifier
import androidx.compose.ui.res.stringResource
import androidx.compose.ui.unit.dp
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import java.time.ZoneId
import java.time.format.DateTimeFormatter
import java.time.format.FormatStyle
import org.hearth.app.R
import org.hearth.app.core.CenterState
import org.hearth.app.core.CenterTask
import org.hearth.app.core.timeOf

/**
 * Center: enroll by scanning the code at the desk (the center then keeps an
 * encrypted copy it cannot read), sync now, live sync on the center's Wi-Fi, what
 * sync is doing, the way to the center's groups ([onOpenGroups]), and for a coach
 * the plans members shared with them ([onOpenShared]).
 */
@Composable
fun CenterScreen(vm: CenterViewModel, onOpenGroups: () -> Unit, onOpenShared: () -> Unit) {
    val state by vm.model.state.collectAsStateWithLifecycle()
    var scanning by rememberSaveable { mutableStateOf(false) }
    var typed by rememberSaveable { mutableStateOf("") }
    val zone = ZoneId.systemDefault()
    val timeFormat = DateTimeFormatter.ofLocalizedTime(FormatStyle.SHORT)

    LazyColumn(
        modifier = Modifier.fillMaxSize(),
        contentPadding = PaddingValues(horizontal = 20.dp, vertical = 16.dp),
        verticalArrangement = Arrangement.spacedBy(12.dp),
    ) {
        item { ScreenHeader(stringResource(R.string.center_title), stringResource(R.string.center_subtitle)) }
        item { MessageCard(state.error, state.notice, vm.model::dismissMessages) }

        if (!state.enrolled) {
            item {
                Card(modifier = Modifier.fillMaxWidth()) {
                    Column(modifier = Modifier.padding(16.dp), verticalArrangement = Arrangement.spacedBy(12.dp)) {
                        Text(stringResource(R.string.center_enroll_title), style = MaterialTheme.typography.titleMedium)
                        Text(stringResource(R.string.center_enroll_text), style = MaterialTheme.typography.bodyMedium)
                        Button(
                            onClick = { scanning = true },
                            enabled = state.task == null,
                            modifier = Modifier.fillMaxWidth(),
                        ) { BusyLabel(state, CenterTask.ENROLLING, stringResource(R.string.center_scan)) }
                        OutlinedTextField(
                            value = typed,
                            onValueChange = { typed = it },
                            label = { Text(stringResource(R.string.center_paste)) },
                            singleLine = true,
                            modifier = Modifier.fillMaxWidth(),
                        )
                        OutlinedButton(
                            onClick = { vm.act { if (enroll(typed)) typed = "" } },
                            enabled = typed.isNotBlank() && state.task == null,
                        ) { Text(stringResource(R.string.center_enroll)) }
                    }
                }
            }
        } else {
            item {
                Card(modifier = Modifier.fillMaxWidth()) {
                    Column(modifier = Modifier.padding(16.dp), verticalArrangement = Arrangement.spacedBy(8.dp)) {
                        Text(stringResource(R.string.center_enrolled_title), style = MaterialTheme.typography.titleMedium)
                        Text(
                            stringResource(R.string.center_enrolled_text, state.hub?.shortId.orEmpty()),
                            style = MaterialTheme.typography.bodyMedium,
                        )
                    }
                }
            }
            item {
                Card(modifier = Modifier.fillMaxWidth()) {
                    Column(modifier = Modifier.padding(16.dp), verticalArrangement = Arrangement.spacedBy(8.dp)) {
                        Text(stringResource(R.string.center_groups_title), style = MaterialTheme.typography.titleMedium)
                        Text(stringResource(R.string.center_groups_text), style = MaterialTheme.typography.bodyMedium)
                        Button(onClick = onOpenGroups, modifier = Modifier.fillMaxWidth()) {
                            Text(stringResource(R.string.center_groups_open))
                        }
                    }
                }
            }
        }

        // For coaches: plans members shared with them, and the card members scan.
        item {
            Card(modifier = Modifier.fillMaxWidth()) {
                Column(modifier = Modifier.padding(16.dp), verticalArrangement = Arrangement.spacedBy(8.dp)) {
                    Text(stringResource(R.string.center_shared_title), style = MaterialTheme.typography.titleMedium)
                    Text(stringResource(R.string.center_shared_text), style = MaterialTheme.typography.bodyMedium)
                    OutlinedButton(onClick = onOpenShared, modifier = Modifier.fillMaxWidth()) {
                        Text(stringResource(R.string.center_shared_open))
                    }
                }
            }
        }

        // Live sync and sync now.
        item {
            Card(modifier = Modifier.fillMaxWidth()) {
                Column(modifier = Modifier.padding(16.dp), verticalArrangement = Arrangement.spacedBy(12.dp)) {
                    Row(verticalAlignment = Alignment.CenterVertically) {
                        Column(modifier = Modifier.weight(1f)) {
                            Text(stringResource(R.string.center_live), style = MaterialTheme.typography.titleMedium)
                            Text(
                                stringResource(R.string.center_live_text),
                                style = MaterialTheme.typography.bodySmall,
                                color = MaterialTheme.colorScheme.onSurfaceVariant,
                            )
                        }
                        Switch(
                            checked = state.online,
                            onCheckedChange = { vm.setLiveSync(it) },
                            enabled = state.task == null,
                        )
                    }
                    Text(state.statusLine, style = MaterialTheme.typography.bodyLarge)
                    Button(
                        onClick = { vm.act { syncNow() } },
                        enabled = state.task == null,
                        modifier = Modifier.fillMaxWidth(),
                    ) { BusyLabel(state, CenterTask.SYNCING, stringResource(R.string.center_sync_now)) }
                    state.lastSyncLine?.let { line ->
                        val at = state.lastSyncAtMs?.let { timeOf(it, zone).format(timeFormat) }.orEmpty()
                        Text(
                            stringResource(R.string.center_last_sync, at, line),
                            style = MaterialTheme.typography.bodySmall,
                        )
                    }
                }
            }
        }

        if (state.activity.isNotEmpty()) {
            item { Text(stringResource(R.string.center_activity), style = MaterialTheme.typography.titleSmall) }
            items(state.activity) { line ->
                Row(horizontalArrangement = Arrangement.spacedBy(12.dp)) {
                    Text(timeOf(line.atMs, zone).format(timeFormat), style = MaterialTheme.typography.labelMedium)
                    Text(line.text, style = MaterialTheme.typography.bodySmall)
                }
            }
        }

        item {
            Text(
                stringResource(R.string.center_privacy),
                style = MaterialTheme.typography.bodySmall,
                color = MaterialTheme.colorScheme.onSurfaceVariant,
            )
        }
    }

    if (scanning) {
        QrScannerDialog(
            title = stringResource(R.string.center_scan_title),
            onResult = { ticket ->
                scanning = false
                vm.act { enroll(ticket) }
            },
            onDismiss = { scanning = false },
        )
    }
}

@Composable
private fun BusyLabel(state: CenterState, task: CenterTask, label: String) {
    if (state.task == task) {
        CircularProgressIndicator(modifier = Modifier.size(20.dp), strokeWidth = 2.dp)
    } else {
        Text(label)
    }
}
