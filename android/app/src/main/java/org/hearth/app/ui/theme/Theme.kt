package org.hearth.app.ui.theme

import androidx.compose.foundation.isSystemInDarkTheme
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.darkColorScheme
import androidx.compose.material3.lightColorScheme
import androidx.compose.runtime.Composable
import androidx.compose.ui.graphics.Color

// Warm, calm colours: terracotta and ember on cream, no clinical blues.
private val Ember = Color(0xFFB5543C)
private val EmberLight = Color(0xFFFFB59F)
private val Sage = Color(0xFF5E7A5B)
private val SageLight = Color(0xFFB7D1B2)
private val Cream = Color(0xFFFBF6F1)
private val Night = Color(0xFF1E1A17)

private val LightColors = lightColorScheme(
    primary = Ember,
    onPrimary = Color.White,
    primaryContainer = Color(0xFFFFDBD0),
    onPrimaryContainer = Color(0xFF3B0A00),
    secondary = Sage,
    onSecondary = Color.White,
    secondaryContainer = Color(0xFFDDEBD8),
    onSecondaryContainer = Color(0xFF1A2E19),
    tertiary = Color(0xFF8A6A2F),
    background = Cream,
    onBackground = Color(0xFF221A16),
    surface = Cream,
    onSurface = Color(0xFF221A16),
    surfaceVariant = Color(0xFFF3E6DE),
    onSurfaceVariant = Color(0xFF53433D),
)

private val DarkColors = darkColorScheme(
    primary = EmberLight,
    onPrimary = Color(0xFF5F1600),
    primaryContainer = Color(0xFF8A3A25),
    onPrimaryContainer = Color(0xFFFFDBD0),
    secondary = SageLight,
    onSecondary = Color(0xFF23361F),
    secondaryContainer = Color(0xFF3A4D36),
    onSecondaryContainer = Color(0xFFDDEBD8),
    tertiary = Color(0xFFE8C27F),
    background = Night,
    onBackground = Color(0xFFEDE0DA),
    surface = Night,
    onSurface = Color(0xFFEDE0DA),
    surfaceVariant = Color(0xFF53433D),
    onSurfaceVariant = Color(0xFFD8C2B9),
)

/** Hearth's Material 3 theme (light and dark). */
@Composable
fun HearthTheme(dark: Boolean = isSystemInDarkTheme(), content: @Composable () -> Unit) {
    MaterialTheme(colorScheme = if (dark) DarkColors else LightColors, content = content)
}

/** The mood colours, 1 (rough) to 5 (great): warm to calm, never red-for-bad alarm. */
fun moodColor(mood: Int, dark: Boolean): Color = when (mood) {
    1 -> if (dark) Color(0xFFB39DDB) else Color(0xFF6A5A9C)
    2 -> if (dark) Color(0xFF9FB7D9) else Color(0xFF5C7AA6)
    3 -> if (dark) Color(0xFFE0C68F) else Color(0xFFA68A45)
    4 -> if (dark) Color(0xFFB7D1B2) else Color(0xFF5E8A5A)
    else -> if (dark) Color(0xFFFFB59F) else Color(0xFFC4623F)
}
