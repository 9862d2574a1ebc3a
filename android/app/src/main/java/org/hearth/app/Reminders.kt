package org.hearth.app

import android.Manifest
import android.app.AlarmManager
import android.app.Notification
import android.app.NotificationChannel
import android.app.NotificationManager
import android.app.PendingIntent
import android.content.BroadcastReceiver
import android.content.Context
import android.content.Intent
import android.content.pm.PackageManager
import android.net.Uri
import android.os.Build
import org.hearth.app.core.Reminder

/**
 * Sign-up reminders as local notifications, on this phone only: no e-mail, no phone
 * number, no push server. One alarm per sign-up that asked for a reminder; its words
 * are the library's, which give nothing away on a lock screen ("Hearth: something
 * you signed up for starts at 15:00").
 *
 * What is scheduled is remembered (sign-up id → time and words, nothing else) in
 * private preferences kept out of backups, so [sync] only touches what changed and
 * [ReminderReceiver] can set the alarms again after a restart, when Android has
 * dropped them, without opening the journal.
 */
object ReminderAlarms {
    private const val PREFS = "hearth_reminders"
    private const val CHANNEL = "reminders"
    private const val ACTION_REMIND = "org.hearth.app.action.REMIND"
    private const val EXTRA_TEXT = "text"

    /** Makes the scheduled alarms exactly [reminders] (past ones are left out). */
    fun sync(context: Context, reminders: List<Reminder>, now: Long = System.currentTimeMillis()) {
        val prefs = prefs(context)
        val wanted = reminders.filter { it.atMs > now }.associateBy { it.signUpId }
        val edit = prefs.edit()
        for (id in prefs.all.keys - wanted.keys) {
            cancel(context, id)
            edit.remove(id)
        }
        for (r in wanted.values) {
            val stored = "${r.atMs}\n${r.text}"
            if (prefs.getString(r.signUpId, null) != stored) {
                schedule(context, r)
                edit.putString(r.signUpId, stored)
            }
        }
        edit.apply()
    }

    /** Sets every remembered alarm again (after a restart or an app update). */
    fun rearm(context: Context, now: Long = System.currentTimeMillis()) {
        val prefs = prefs(context)
        val edit = prefs.edit()
        for ((id, value) in prefs.all) {
            val (at, text) = (value as? String)?.split('\n', limit = 2)
                ?.takeIf { it.size == 2 }
                ?.let { (it[0].toLongOrNull() ?: 0L) to it[1] }
                ?: (0L to "")
            if (at > now) schedule(context, Reminder(id, at, text)) else edit.remove(id)
        }
        edit.apply()
    }

    /** Shows the reminder for [signUpId] now, and forgets it. */
    internal fun show(context: Context, signUpId: String, text: String) {
        prefs(context).edit().remove(signUpId).apply()
        if (Build.VERSION.SDK_INT >= Build.VERSION_CODES.TIRAMISU &&
            context.checkSelfPermission(Manifest.permission.POST_NOTIFICATIONS) != PackageManager.PERMISSION_GRANTED
        ) {
            return
        }
        val manager = context.getSystemService(NotificationManager::class.java) ?: return
        manager.createNotificationChannel(
            NotificationChannel(CHANNEL, context.getString(R.string.reminders_channel), NotificationManager.IMPORTANCE_DEFAULT)
                .apply { description = context.getString(R.string.reminders_channel_text) },
        )
        val open = PendingIntent.getActivity(
            context,
            0,
            Intent(context, MainActivity::class.java).addFlags(Intent.FLAG_ACTIVITY_NEW_TASK),
            PendingIntent.FLAG_IMMUTABLE,
        )
        val notification = Notification.Builder(context, CHANNEL)
            .setSmallIcon(R.drawable.ic_notification)
            .setContentText(text)
            .setStyle(Notification.BigTextStyle().bigText(text))
            .setCategory(Notification.CATEGORY_REMINDER)
            // The words are written to be safe on a lock screen.
            .setVisibility(Notification.VISIBILITY_PUBLIC)
            .setContentIntent(open)
            .setAutoCancel(true)
            .build()
        manager.notify(signUpId.hashCode(), notification)
    }

    private fun schedule(context: Context, r: Reminder) {
        val alarms = context.getSystemService(AlarmManager::class.java) ?: return
        val pending = PendingIntent.getBroadcast(
            context,
            0,
            intent(context, r.signUpId).putExtra(EXTRA_TEXT, r.text),
            PendingIntent.FLAG_UPDATE_CURRENT or PendingIntent.FLAG_IMMUTABLE,
        )
        // Exact when Android allows it without asking the member; otherwise within a
        // few minutes, which is fine for "starts in an hour".
        try {
            if (Build.VERSION.SDK_INT < Build.VERSION_CODES.S || alarms.canScheduleExactAlarms()) {
                alarms.setExactAndAllowWhileIdle(AlarmManager.RTC_WAKEUP, r.atMs, pending)
            } else {
                alarms.setAndAllowWhileIdle(AlarmManager.RTC_WAKEUP, r.atMs, pending)
            }
        } catch (e: SecurityException) {
            alarms.setAndAllowWhileIdle(AlarmManager.RTC_WAKEUP, r.atMs, pending)
        }
    }

    private fun cancel(context: Context, signUpId: String) {
        val pending = PendingIntent.getBroadcast(
            context,
            0,
            intent(context, signUpId),
            PendingIntent.FLAG_NO_CREATE or PendingIntent.FLAG_IMMUTABLE,
        ) ?: return
        context.getSystemService(AlarmManager::class.java)?.cancel(pending)
        pending.cancel()
    }

    /** One alarm per sign-up: the id is in the data, which tells intents apart. */
    private fun intent(context: Context, signUpId: String): Intent =
        Intent(context, ReminderReceiver::class.java)
            .setAction(ACTION_REMIND)
            .setData(Uri.fromParts("hearth-reminder", signUpId, null))

    internal fun isReminder(intent: Intent) = intent.action == ACTION_REMIND

    internal fun signUpIdOf(intent: Intent): String? = intent.data?.schemeSpecificPart

    internal fun textOf(intent: Intent): String? = intent.getStringExtra(EXTRA_TEXT)

    private fun prefs(context: Context) = context.getSharedPreferences(PREFS, Context.MODE_PRIVATE)
}

/** Shows a due reminder; after a restart or an update, sets the alarms again. */
class ReminderReceiver : BroadcastReceiver() {
    override fun onReceive(context: Context, intent: Intent) {
        when {
            ReminderAlarms.isReminder(intent) -> {
                val id = ReminderAlarms.signUpIdOf(intent) ?: return
                val text = ReminderAlarms.textOf(intent) ?: return
                ReminderAlarms.show(context, id, text)
            }
            intent.action == Intent.ACTION_BOOT_COMPLETED || intent.action == Intent.ACTION_MY_PACKAGE_REPLACED ->
                ReminderAlarms.rearm(context)
        }
    }
}
