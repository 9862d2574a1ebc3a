package org.hearth.app

import android.app.Application
import android.content.Context
import androidx.lifecycle.DefaultLifecycleObserver
import androidx.lifecycle.Lifecycle
import androidx.lifecycle.LifecycleOwner
import androidx.lifecycle.ProcessLifecycleOwner
import java.io.File
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.Job
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.launch
import org.hearth.app.core.HearthSession

/**
 * The process: opens the member's journal (or leaves the welcome screen to create,
 * join or restore one), holds the multicast lock while online, goes offline when the
 * app is in the background, and keeps sign-up reminders scheduled as the journal's
 * sign-ups change (on this device or another). There is no analytics, crash reporter
 * or logger.
 */
class HearthApp : Application() {
    /** Lives as long as the process. */
    val appScope = CoroutineScope(SupervisorJob() + Dispatchers.Main.immediate)

    /** The journal on this device. */
    lateinit var session: HearthSession
        private set

    private lateinit var lan: LanDiscovery
    private var lanJob: Job? = null
    private var remindersJob: Job? = null

    override fun onCreate() {
        super.onCreate()
        val seeds = KeystoreSeedStore(this)
        lan = LanDiscovery(this)
        session = HearthSession(
            // The app's private files: not readable by other apps, excluded from backup.
            dataDir = File(filesDir, "vault").absolutePath,
            keyStore = seeds,
            scope = appScope,
            forgetSeed = seeds::forget,
        )
        appScope.launch { session.open() }

        // The multicast lock follows "online", and the alarms the sign-ups' reminders,
        // for whichever journal is open.
        appScope.launch {
            session.state.collect { state ->
                lanJob?.cancel()
                lanJob = null
                remindersJob?.cancel()
                remindersJob = null
                if (state is HearthSession.State.Ready) {
                    lanJob = lan.follow(state.repository.online, appScope)
                    remindersJob = appScope.launch {
                        // Null until the journal is read: never cancel everything before then.
                        state.repository.reminders.collect { r -> if (r != null) ReminderAlarms.sync(this@HearthApp, r) }
                    }
                    if (liveSyncWanted && onScreen()) state.repository.goOnline()
                }
            }
        }

        // Live sync only while the app is on screen, and only if the member turned it on.
        ProcessLifecycleOwner.get().lifecycle.addObserver(object : DefaultLifecycleObserver {
            override fun onStart(owner: LifecycleOwner) {
                if (liveSyncWanted) appScope.launch { session.repository?.goOnline() }
            }

            override fun onStop(owner: LifecycleOwner) {
                appScope.launch { session.repository?.goOffline() }
            }
        })
    }

    /** Whether the member turned live sync on (remembered on this device only). */
    var liveSyncWanted: Boolean
        get() = prefs().getBoolean(KEY_LIVE_SYNC, false)
        set(value) = prefs().edit().putBoolean(KEY_LIVE_SYNC, value).apply()

    private fun onScreen() =
        ProcessLifecycleOwner.get().lifecycle.currentState.isAtLeast(Lifecycle.State.STARTED)

    private fun prefs() = getSharedPreferences(PREFS, Context.MODE_PRIVATE)

    private companion object {
        const val PREFS = "hearth"
        const val KEY_LIVE_SYNC = "live_sync"
    }
}
