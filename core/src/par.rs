//! CPU-bound work over many items (signature checks) or a few large ones (the parts
//! of a journal to load) spread over the machine's cores with scoped threads. Small
//! inputs stay on the calling thread: a thread costs more than a handful of checks.

/// Below this many items the work stays on the calling thread.
const MIN_PARALLEL: usize = 8;
/// At most this many threads (phones have 8 cores, few of them fast).
const MAX_THREADS: usize = 4;

/// `items.map(f)` in order, on up to [`MAX_THREADS`] threads, leaving `busy` cores to
/// work already running elsewhere. A panic in `f` is passed on to the caller, as it
/// would be without threads.
pub(crate) fn map<T: Send, R: Send>(
    items: Vec<T>,
    busy: usize,
    f: impl Fn(T) -> R + Sync,
) -> Vec<R> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .saturating_sub(busy)
        .min(MAX_THREADS);
    if threads < 2 || items.len() < MIN_PARALLEL {
        return items.into_iter().map(f).collect();
    }
    let per = items.len().div_ceil(threads);
    let mut chunks: Vec<Vec<T>> = Vec::with_capacity(threads);
    let mut rest = items.into_iter();
    loop {
        let chunk: Vec<T> = rest.by_ref().take(per).collect();
        if chunk.is_empty() {
            break;
        }
        chunks.push(chunk);
    }
    in_threads(chunks, &f)
}

/// `items.map(f)` in order, each item on its own thread (the first on the calling
/// one): for a few large pieces of work, such as the parts of a journal to load.
pub(crate) fn each<T: Send, R: Send>(items: Vec<T>, f: impl Fn(T) -> R + Sync) -> Vec<R> {
    if items.len() < 2 {
        return items.into_iter().map(f).collect();
    }
    in_threads(items.into_iter().map(|item| vec![item]).collect(), &f)
}

/// Maps each chunk on its own scoped thread, the first on the calling one; the
/// results in order.
fn in_threads<T: Send, R: Send>(chunks: Vec<Vec<T>>, f: &(impl Fn(T) -> R + Sync)) -> Vec<R> {
    std::thread::scope(|s| {
        let mut chunks = chunks.into_iter();
        let here = chunks.next().unwrap_or_default();
        let others: Vec<_> = chunks
            .map(|chunk| s.spawn(move || chunk.into_iter().map(f).collect::<Vec<R>>()))
            .collect();
        let mut out: Vec<R> = here.into_iter().map(f).collect();
        for other in others {
            match other.join() {
                Ok(part) => out.extend(part),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        out
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn keeps_order_for_every_size() {
        for n in [0, 1, 7, 8, 9, 31, 100] {
            let items: Vec<u32> = (0..n).collect();
            let out = super::map(items.clone(), 0, |x| x * 3);
            assert_eq!(out, items.iter().map(|x| x * 3).collect::<Vec<_>>());
            let out = super::each(items.clone(), |x| x * 3);
            assert_eq!(out, items.iter().map(|x| x * 3).collect::<Vec<_>>());
        }
    }
}
