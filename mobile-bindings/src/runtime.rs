//! The one tokio runtime the library runs its work on. Foreign callers await the
//! returned futures from their own executors (Kotlin coroutines, Swift tasks, asyncio).

use std::future::Future;
use std::sync::OnceLock;

use crate::HearthError;

fn runtime() -> Result<&'static tokio::runtime::Runtime, HearthError> {
    static RT: OnceLock<Result<tokio::runtime::Runtime, String>> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("hearth")
            .enable_all()
            .build()
            .map_err(|e| e.to_string())
    })
    .as_ref()
    .map_err(|e| HearthError::Storage {
        message: format!("cannot start the runtime: {e}"),
    })
}

/// Runs an async task on the library's runtime.
pub(crate) async fn spawn<T, F>(fut: F) -> Result<T, HearthError>
where
    T: Send + 'static,
    F: Future<Output = Result<T, HearthError>> + Send + 'static,
{
    runtime()?
        .spawn(fut)
        .await
        .map_err(|e| HearthError::Storage {
            message: format!("task failed: {e}"),
        })?
}

/// Runs blocking work (disk, crypto) on the runtime's blocking pool.
pub(crate) async fn blocking<T, F>(f: F) -> Result<T, HearthError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, HearthError> + Send + 'static,
{
    runtime()?
        .spawn_blocking(f)
        .await
        .map_err(|e| HearthError::Storage {
            message: format!("task failed: {e}"),
        })?
}

/// The runtime, for background tasks.
pub(crate) fn handle() -> Result<tokio::runtime::Handle, HearthError> {
    Ok(runtime()?.handle().clone())
}
