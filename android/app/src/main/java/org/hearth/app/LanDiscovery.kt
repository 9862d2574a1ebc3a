package org.hearth.app

import android.content.Context
import android.net.wifi.WifiManager
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Job
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.launch

/**
 * Android drops multicast packets on Wi-Fi unless an app holds a MulticastLock; the
 * core finds the center's hub and the member's other devices on the local network
 * with it (which is what makes sync work with the internet down). The lock costs
 * battery, so Hearth holds it only while it is online for live sync.
 */
class LanDiscovery(context: Context) {
    private val lock: WifiManager.MulticastLock? =
        context.applicationContext.getSystemService(WifiManager::class.java)
            ?.createMulticastLock(LOCK_TAG)
            ?.apply { setReferenceCounted(false) }

    /** Whether the lock is held now. */
    val held: Boolean get() = lock?.isHeld == true

    /** Lets multicast in. */
    fun acquire() {
        if (lock != null && !lock.isHeld) lock.acquire()
    }

    /** Stops letting multicast in. */
    fun release() {
        if (lock != null && lock.isHeld) lock.release()
    }

    /** Holds the lock exactly while [online] is true, until the returned job is cancelled. */
    fun follow(online: StateFlow<Boolean>, scope: CoroutineScope): Job = scope.launch {
        try {
            online.collect { if (it) acquire() else release() }
        } finally {
            release()
        }
    }

    private companion object {
        const val LOCK_TAG = "hearth:lan-discovery"
    }
}
