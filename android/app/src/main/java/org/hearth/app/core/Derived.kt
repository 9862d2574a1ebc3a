package org.hearth.app.core

import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.merge
import kotlinx.coroutines.launch

/**
 * A screen state computed from the repository's flows and the model's own fields.
 * [refresh] recomputes it at once (every model action calls it before returning, so
 * a caller — a test, a button — sees the result without waiting); a collector in
 * `scope` recomputes it whenever one of the [sources] changes.
 */
internal class Derived<T>(scope: CoroutineScope, sources: List<Flow<*>>, private val compute: () -> T) {
    private val lock = Any()
    private val flow = MutableStateFlow(compute())

    /** The state. */
    val state: StateFlow<T> = flow.asStateFlow()

    init {
        scope.launch { merge(*sources.toTypedArray()).collect { refresh() } }
    }

    /** Recomputes the state now. */
    fun refresh() {
        synchronized(lock) { flow.value = compute() }
    }
}
