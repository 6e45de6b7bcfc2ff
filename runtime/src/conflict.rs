//! Optimistic-concurrency writes: a write computed from the object as last read carries its
//! resourceVersion; when another writer got there first, the object is read afresh and the
//! write computed again, a few times before the caller backs off.

use std::future::Future;

/// Why the write did not happen.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Write(kube::Error),
    #[error("cannot re-read the object after a conflicting write: {0}")]
    Reread(kube::Error),
    /// Every attempt lost to another writer; `last` is the final conflict.
    #[error("the object changed under each of {attempts} attempts to write it")]
    Contended { attempts: usize, last: kube::Error },
}

/// Calls `write` with `current` (which writes, or decides there is nothing to write), and on a
/// conflict (409) with the object `reread` returns, up to `attempts` times in all.
pub async fn write_fresh<K, W, WF, R, RF>(
    current: K,
    attempts: usize,
    mut write: W,
    mut reread: R,
) -> Result<(), Error>
where
    W: FnMut(K) -> WF,
    WF: Future<Output = Result<(), kube::Error>>,
    R: FnMut() -> RF,
    RF: Future<Output = Result<K, kube::Error>>,
{
    let mut current = current;
    for attempt in 1..=attempts.max(1) {
        match write(current).await {
            Ok(()) => return Ok(()),
            Err(e) if is_conflict(&e) => {
                if attempt == attempts.max(1) {
                    return Err(Error::Contended { attempts, last: e });
                }
                current = reread().await.map_err(Error::Reread)?;
            }
            Err(e) => return Err(Error::Write(e)),
        }
    }
    unreachable!("the loop returns on its last attempt")
}

fn is_conflict(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(status) if status.code == 409)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    fn conflict() -> kube::Error {
        kube::Error::Api(
            kube::core::Status::failure("the object has been modified", "Conflict")
                .with_code(409)
                .boxed(),
        )
    }

    #[tokio::test]
    async fn a_conflict_retries_with_the_fresh_object_until_attempts_run_out() {
        // Version 1 conflicts, the re-read version 2 is written.
        let rereads = Cell::new(0);
        let written = Cell::new(0);
        let result = write_fresh(
            1,
            3,
            |version| {
                let ok = version == 2;
                if ok {
                    written.set(version);
                }
                async move { if ok { Ok(()) } else { Err(conflict()) } }
            },
            || {
                rereads.set(rereads.get() + 1);
                async { Ok(2) }
            },
        )
        .await;
        assert!(result.is_ok());
        assert_eq!((rereads.get(), written.get()), (1, 2));

        // Always conflicting: gives up after the attempts, without a needless last re-read.
        let rereads = Cell::new(0);
        let result = write_fresh(
            1,
            3,
            |_| async { Err(conflict()) },
            || {
                rereads.set(rereads.get() + 1);
                async { Ok(1) }
            },
        )
        .await;
        assert!(matches!(result, Err(Error::Contended { attempts: 3, .. })));
        assert_eq!(rereads.get(), 2);
    }

    #[tokio::test]
    async fn other_errors_are_not_retried() {
        let result = write_fresh(
            1,
            3,
            |_| async { Err(kube::Error::LinesCodecMaxLineLengthExceeded) },
            || async { Ok(1) },
        )
        .await;
        assert!(matches!(result, Err(Error::Write(_))));
    }
}
