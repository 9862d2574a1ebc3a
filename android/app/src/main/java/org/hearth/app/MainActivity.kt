package org.hearth.app

import android.os.Build
import android.os.Bundle
import androidx.activity.ComponentActivity
import androidx.activity.compose.setContent
import androidx.activity.enableEdgeToEdge
import org.hearth.app.ui.HearthRoot
import org.hearth.app.ui.theme.HearthTheme

/** The one activity: Compose all the way down (see ui/HearthRoot.kt). */
class MainActivity : ComponentActivity() {
    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        enableEdgeToEdge()
        // A journal is private: keep it out of the recent-apps thumbnail.
        if (Build.VERSION.SDK_INT >= Build.VERSION_CODES.TIRAMISU) setRecentsScreenshotEnabled(false)
        val app = application as HearthApp
        setContent {
            HearthTheme {
                HearthRoot(app)
            }
        }
    }
}
