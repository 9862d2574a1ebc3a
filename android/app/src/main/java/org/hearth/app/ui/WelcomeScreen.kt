package org.hearth.app.ui

import android.net.Uri
import androidx.activity.compose.rememberLauncherForActivityResult
import androidx.activity.result.contract.ActivityResultContracts
import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.rememberScrollState
import androidx.compose.foundation.text.KeyboardOptions
import androidx.compose.foundation.verticalScroll
import androidx.compose.material3.AlertDialog
import androidx.compose.material3.Button
import androidx.compose.material3.Card
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.OutlinedButton
import androidx.compose.material3.OutlinedTextField
import androidx.compose.material3.Text
import androidx.compose.material3.TextButton
import androidx.compose.runtime.Composable
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.remember
import androidx.compose.runtime.saveable.rememberSaveable
import androidx.compose.runtime.setValue
import androidx.compose.ui.Modifier
import androidx.compose.ui.platform.LocalContext
import androidx.compose.ui.res.stringResource
import androidx.compose.ui.text.input.KeyboardType
import androidx.compose.ui.text.input.PasswordVisualTransformation
import androidx.compose.ui.unit.dp
import org.hearth.app.R
import org.hearth.app.core.UiError

/**
 * The first screen on a device with no journal: start one, join the journal on
 * another of the member's devices (scan its invite), or restore a backup file.
 * No account, no phone number, no real name: a nickname is optional.
 */
@Composable
fun WelcomeScreen(vm: WelcomeViewModel, error: UiError?) {
    val context = LocalContext.current
    var name by rememberSaveable { mutableStateOf("") }
    var scanning by rememberSaveable { mutableStateOf(false) }
    var typedTicket by rememberSaveable { mutableStateOf("") }
    var backup by remember { mutableStateOf<ByteArray?>(null) }
    var fileError by remember { mutableStateOf<String?>(null) }
    var dismissed by remember(error) { mutableStateOf(false) }
    val unreadable = stringResource(R.string.welcome_restore_unreadable)

    val pickBackup = rememberLauncherForActivityResult(ActivityResultContracts.OpenDocument()) { uri: Uri? ->
        if (uri != null) {
            val bytes = runCatching { context.contentResolver.openInputStream(uri)?.use { it.readBytes() } }.getOrNull()
            if (bytes == null) fileError = unreadable else backup = bytes
        }
    }

    Column(
        modifier = Modifier
            .fillMaxSize()
            .verticalScroll(rememberScrollState())
            .padding(horizontal = 24.dp, vertical = 32.dp),
        verticalArrangement = Arrangement.spacedBy(16.dp),
    ) {
        ScreenHeader(stringResource(R.string.welcome_title), stringResource(R.string.welcome_subtitle))
        MessageCard(
            error = (if (dismissed) null else error) ?: fileError?.let { UiError.invalid(it) },
            notice = null,
            onDismiss = {
                dismissed = true
                fileError = null
            },
        )

        Card(modifier = Modifier.fillMaxWidth()) {
            Column(modifier = Modifier.padding(16.dp), verticalArrangement = Arrangement.spacedBy(12.dp)) {
                Text(stringResource(R.string.welcome_new_title), style = MaterialTheme.typography.titleMedium)
                OutlinedTextField(
                    value = name,
                    onValueChange = { name = it },
                    label = { Text(stringResource(R.string.welcome_name)) },
                    supportingText = { Text(stringResource(R.string.welcome_name_hint)) },
                    singleLine = true,
                    modifier = Modifier.fillMaxWidth(),
                )
                Button(onClick = { vm.create(name) }, modifier = Modifier.fillMaxWidth()) {
                    Text(stringResource(R.string.welcome_start))
                }
            }
        }

        Card(modifier = Modifier.fillMaxWidth()) {
            Column(modifier = Modifier.padding(16.dp), verticalArrangement = Arrangement.spacedBy(12.dp)) {
                Text(stringResource(R.string.welcome_join_title), style = MaterialTheme.typography.titleMedium)
                Text(stringResource(R.string.welcome_join_text), style = MaterialTheme.typography.bodyMedium)
                Button(onClick = { scanning = true }, modifier = Modifier.fillMaxWidth()) {
                    Text(stringResource(R.string.welcome_join_scan))
                }
                OutlinedTextField(
                    value = typedTicket,
                    onValueChange = { typedTicket = it },
                    label = { Text(stringResource(R.string.welcome_join_paste)) },
                    singleLine = true,
                    modifier = Modifier.fillMaxWidth(),
                )
                OutlinedButton(onClick = { vm.join(typedTicket) }, enabled = typedTicket.isNotBlank()) {
                    Text(stringResource(R.string.welcome_join))
                }
            }
        }

        Card(modifier = Modifier.fillMaxWidth()) {
            Column(modifier = Modifier.padding(16.dp), verticalArrangement = Arrangement.spacedBy(12.dp)) {
                Text(stringResource(R.string.welcome_restore_title), style = MaterialTheme.typography.titleMedium)
                Text(stringResource(R.string.welcome_restore_text), style = MaterialTheme.typography.bodyMedium)
                OutlinedButton(onClick = { pickBackup.launch(arrayOf("*/*")) }) {
                    Text(stringResource(R.string.welcome_restore_pick))
                }
            }
        }

        Text(
            stringResource(R.string.welcome_privacy),
            style = MaterialTheme.typography.bodySmall,
            color = MaterialTheme.colorScheme.onSurfaceVariant,
        )
    }

    if (scanning) {
        QrScannerDialog(
            title = stringResource(R.string.welcome_join_scan_title),
            onResult = { ticket ->
                scanning = false
                vm.join(ticket)
            },
            onDismiss = { scanning = false },
        )
    }

    backup?.let { bytes ->
        PassphraseDialog(
            onRestore = { passphrase ->
                backup = null
                vm.restore(bytes, passphrase)
            },
            onDismiss = { backup = null },
        )
    }
}

@Composable
private fun PassphraseDialog(onRestore: (String) -> Unit, onDismiss: () -> Unit) {
    var passphrase by remember { mutableStateOf("") }
    AlertDialog(
        onDismissRequest = onDismiss,
        title = { Text(stringResource(R.string.welcome_restore_title)) },
        text = {
            OutlinedTextField(
                value = passphrase,
                onValueChange = { passphrase = it },
                label = { Text(stringResource(R.string.welcome_passphrase)) },
                singleLine = true,
                visualTransformation = PasswordVisualTransformation(),
                keyboardOptions = KeyboardOptions(keyboardType = KeyboardType.Password),
                modifier = Modifier.fillMaxWidth(),
            )
        },
        confirmButton = {
            TextButton(onClick = { onRestore(passphrase) }, enabled = passphrase.isNotEmpty()) {
                Text(stringResource(R.string.welcome_restore))
            }
        },
        dismissButton = { TextButton(onClick = onDismiss) { Text(stringResource(R.string.cancel)) } },
    )
}
