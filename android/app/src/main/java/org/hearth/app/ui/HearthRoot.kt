package org.hearth.app.ui

import androidx.annotation.StringRes
import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.Spacer
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.height
import androidx.compose.foundation.layout.padding
import androidx.compose.material.icons.Icons
import androidx.compose.material.icons.automirrored.filled.List
import androidx.compose.material.icons.filled.DateRange
import androidx.compose.material.icons.filled.Face
import androidx.compose.material.icons.filled.Home
import androidx.compose.material.icons.filled.Phone
import androidx.compose.material3.Button
import androidx.compose.material3.CircularProgressIndicator
import androidx.compose.material3.Icon
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.NavigationBar
import androidx.compose.material3.NavigationBarItem
import androidx.compose.material3.Scaffold
import androidx.compose.material3.SnackbarHost
import androidx.compose.material3.SnackbarHostState
import androidx.compose.material3.Surface
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.runtime.LaunchedEffect
import androidx.compose.runtime.getValue
import androidx.compose.runtime.remember
import androidx.compose.runtime.rememberCoroutineScope
import androidx.compose.ui.Alignment
import androidx.compose.ui.Modifier
import androidx.compose.ui.graphics.vector.ImageVector
import androidx.compose.ui.res.stringResource
import androidx.compose.ui.text.style.TextAlign
import androidx.compose.ui.unit.dp
import androidx.lifecycle.ViewModel
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import androidx.lifecycle.viewmodel.compose.viewModel
import androidx.lifecycle.viewmodel.initializer
import androidx.lifecycle.viewmodel.viewModelFactory
import androidx.navigation.NavGraph.Companion.findStartDestination
import androidx.navigation.compose.NavHost
import androidx.navigation.compose.composable
import androidx.navigation.compose.currentBackStackEntryAsState
import androidx.navigation.compose.rememberNavController
import kotlinx.coroutines.launch
import org.hearth.app.HearthApp
import org.hearth.app.R
import org.hearth.app.core.HearthRepository
import org.hearth.app.core.HearthSession

/** The five screens of the bottom bar; [more] are the routes reached from one (shown under it). */
enum class Tab(val route: String, @StringRes val label: Int, val icon: ImageVector, val more: Set<String> = emptySet()) {
    TODAY("today", R.string.tab_today, Icons.Filled.Face),
    JOURNAL("journal", R.string.tab_journal, Icons.Filled.DateRange),
    PLAN("plan", R.string.tab_plan, Icons.AutoMirrored.Filled.List, more = setOf(SHARING_ROUTE)),
    DEVICES("devices", R.string.tab_devices, Icons.Filled.Phone),
    CENTER("center", R.string.tab_center, Icons.Filled.Home, more = setOf(GROUPS_ROUTE, SHARED_ROUTE)),
}

/** Groups at the center: opened from the Center screen. */
const val GROUPS_ROUTE = "groups"

/** Sharing the plan with a coach: opened from the Plan screen. */
const val SHARING_ROUTE = "sharing"

/** Plans shared with this person as a coach: opened from the Center screen. */
const val SHARED_ROUTE = "shared"

/** A ViewModel made by [create], scoped to the current screen. */
@Composable
inline fun <reified VM : ViewModel> hearthViewModel(crossinline create: () -> VM): VM =
    viewModel(factory = viewModelFactory { initializer { create() } })

/** Follows the session: opening, the welcome screen, or the journal's five tabs. */
@Composable
fun HearthRoot(app: HearthApp) {
    val state by app.session.state.collectAsStateWithLifecycle()
    Surface(modifier = Modifier.fillMaxSize(), color = MaterialTheme.colorScheme.background) {
        when (val s = state) {
            HearthSession.State.Opening -> Waiting(stringResource(R.string.opening))
            is HearthSession.State.Working -> Waiting(
                stringResource(
                    when (s.what) {
                        HearthSession.Setup.CREATING -> R.string.setup_creating
                        HearthSession.Setup.JOINING -> R.string.setup_joining
                        HearthSession.Setup.RESTORING -> R.string.setup_restoring
                    },
                ),
                pairingCode = s.pairingCode,
            )
            is HearthSession.State.NeedsSetup -> WelcomeScreen(
                vm = hearthViewModel { WelcomeViewModel(app.session) },
                error = s.error,
            )
            is HearthSession.State.Failed -> CouldNotOpen(s.error.message) {
                app.appScope.launch { app.session.open() }
            }
            is HearthSession.State.Ready -> MainScaffold(app, s.repository)
        }
    }
}

@Composable
private fun MainScaffold(app: HearthApp, repository: HearthRepository) {
    val nav = rememberNavController()
    val backStack by nav.currentBackStackEntryAsState()
    val current = backStack?.destination?.route
    val snackbar = remember { SnackbarHostState() }
    val scope = rememberCoroutineScope()

    // Problems while refreshing in the background (actions show their own).
    LaunchedEffect(repository) {
        repository.errors.collect { e -> scope.launch { snackbar.showSnackbar(e.message) } }
    }

    Scaffold(
        snackbarHost = { SnackbarHost(snackbar) },
        bottomBar = {
            NavigationBar {
                Tab.entries.forEach { tab ->
                    NavigationBarItem(
                        selected = current == tab.route || current in tab.more,
                        onClick = {
                            nav.navigate(tab.route) {
                                popUpTo(nav.graph.findStartDestination().id) { saveState = true }
                                launchSingleTop = true
                                restoreState = true
                            }
                        },
                        icon = { Icon(tab.icon, contentDescription = null) },
                        label = { Text(stringResource(tab.label)) },
                    )
                }
            }
        },
    ) { padding ->
        NavHost(
            navController = nav,
            startDestination = Tab.TODAY.route,
            modifier = Modifier.padding(padding),
        ) {
            composable(Tab.TODAY.route) {
                TodayScreen(hearthViewModel { TodayViewModel(repository) }, name = repository.name)
            }
            composable(Tab.JOURNAL.route) {
                JournalScreen(hearthViewModel { JournalViewModel(repository) })
            }
            composable(Tab.PLAN.route) {
                PlanScreen(
                    hearthViewModel { PlanViewModel(repository) },
                    onOpenSharing = { nav.navigate(SHARING_ROUTE) { launchSingleTop = true } },
                )
            }
            composable(Tab.DEVICES.route) {
                DevicesScreen(hearthViewModel { DevicesViewModel(repository) })
            }
            composable(Tab.CENTER.route) {
                CenterScreen(
                    hearthViewModel { CenterViewModel(repository) { on -> app.liveSyncWanted = on } },
                    onOpenGroups = { nav.navigate(GROUPS_ROUTE) { launchSingleTop = true } },
                    onOpenShared = { nav.navigate(SHARED_ROUTE) { launchSingleTop = true } },
                )
            }
            composable(GROUPS_ROUTE) {
                GroupsScreen(hearthViewModel { GroupsViewModel(repository) })
            }
            composable(SHARING_ROUTE) {
                SharingScreen(hearthViewModel { SharingViewModel(repository) })
            }
            composable(SHARED_ROUTE) {
                SharedWithMeScreen(hearthViewModel { SharedWithMeViewModel(repository) })
            }
        }
    }
}

/**
 * Progress, with [text] saying what is happening. While joining, [pairingCode] is
 * shown large: the member checks the other device shows the same and confirms there.
 */
@Composable
private fun Waiting(text: String, pairingCode: String? = null) {
    Column(
        modifier = Modifier.fillMaxSize().padding(32.dp),
        verticalArrangement = Arrangement.Center,
        horizontalAlignment = Alignment.CenterHorizontally,
    ) {
        if (pairingCode != null) {
            Text(
                stringResource(R.string.joining_code_title),
                style = MaterialTheme.typography.titleLarge,
                textAlign = TextAlign.Center,
            )
            Spacer(Modifier.height(16.dp))
            PairingCode(pairingCode)
            Spacer(Modifier.height(16.dp))
            Text(
                stringResource(R.string.joining_code_then),
                style = MaterialTheme.typography.bodyMedium,
                textAlign = TextAlign.Center,
            )
            Spacer(Modifier.height(32.dp))
        }
        CircularProgressIndicator()
        Spacer(Modifier.height(16.dp))
        Text(text, style = MaterialTheme.typography.bodyLarge, textAlign = TextAlign.Center)
    }
}

@Composable
private fun CouldNotOpen(message: String, onRetry: () -> Unit) {
    Column(
        modifier = Modifier.fillMaxSize().padding(32.dp),
        verticalArrangement = Arrangement.Center,
        horizontalAlignment = Alignment.CenterHorizontally,
    ) {
        Text(stringResource(R.string.open_failed_title), style = MaterialTheme.typography.headlineSmall)
        Spacer(Modifier.height(12.dp))
        Text(message, style = MaterialTheme.typography.bodyLarge, textAlign = TextAlign.Center)
        Spacer(Modifier.height(24.dp))
        Button(onClick = onRetry) { Text(stringResource(R.string.try_again)) }
    }
}
