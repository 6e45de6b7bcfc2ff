//! The error policy and result loop every controller built on kube-runtime's `Controller`
//! repeats: failed objects retried after their own backoff, each failure logged once.

use std::fmt::Display;

use futures::{Stream, StreamExt, future};
use kube::Resource;
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;

use crate::backoff::Backoff;

/// The key `object`'s failures are counted under in a [`Backoff`]: its kind, namespace and
/// name, so objects of different kinds sharing one backoff never mix.
pub fn object_key<K>(object: &K) -> String
where
    K: Resource,
    K::DynamicType: Default,
{
    ObjectRef::from_obj(object).to_string()
}

/// `Kind namespace/name`, or `Kind name` for a cluster-scoped object, for messages.
pub fn describe<K>(object: &K) -> String
where
    K: Resource,
    K::DynamicType: Default,
{
    let dyntype = K::DynamicType::default();
    let kind = K::kind(&dyntype);
    let name = object.meta().name.as_deref().unwrap_or_default();
    match object.meta().namespace.as_deref() {
        Some(namespace) => format!("{kind} {namespace}/{name}"),
        None => format!("{kind} {name}"),
    }
}

/// An error policy: counts one more failure of `object` and requeues it after its backoff
/// delay, warning with the error and the delay under the controller's name.
pub fn requeue_failed<K>(
    backoff: &Backoff,
    controller: &str,
    object: &K,
    error: &impl Display,
) -> Action
where
    K: Resource,
    K::DynamicType: Default,
{
    let delay = backoff.failed(&object_key(object));
    // Retries are routine (conflicts, objects not there yet); what a user must act on is
    // recorded as an Event by the controller itself.
    tracing::debug!(%error, retry_in = ?delay, "{controller}: reconcile failed");
    Action::requeue(delay)
}

/// Forgets `object`'s failures once it reconciled cleanly, so its next failure waits the
/// shortest delay again.
pub fn reconciled<K>(backoff: &Backoff, object: &K)
where
    K: Resource,
    K::DynamicType: Default,
{
    backoff.succeeded(&object_key(object));
}

/// Runs a controller's result stream to its end (its graceful shutdown). Failed reconciles
/// were already logged by the error policy; what else fails is only worth a debug line.
///
/// A plain function returning the stream's own future, so awaiting it adds no state of its
/// own to the (already large) controller future.
pub fn drain<T, E: Display>(
    results: impl Stream<Item = Result<T, E>>,
    controller: &str,
) -> impl Future<Output = ()> {
    results.for_each(move |result| {
        if let Err(error) = result {
            tracing::debug!(%error, "{controller} event");
        }
        future::ready(())
    })
}

/// What [`run_with_backoff`] needs from a controller's context: the backoff its failures count in.
pub trait Backed {
    fn backoff(&self) -> &Backoff;
}

/// Runs `controller` until its graceful shutdown with `reconcile`: an object's failures are
/// retried after its own backoff and logged under `name`, a success forgets them.
pub async fn run_with_backoff<K, C, F, Fut, E>(
    controller: kube::runtime::Controller<K>,
    name: &'static str,
    ctx: std::sync::Arc<C>,
    reconcile: F,
) where
    K: Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug + Send + Sync + 'static,
    K::DynamicType: Default + Clone + Eq + std::hash::Hash + std::fmt::Debug + Unpin,
    C: Backed + Send + Sync + 'static,
    F: Fn(std::sync::Arc<K>, std::sync::Arc<C>) -> Fut + Send + Sync + Clone + 'static,
    Fut: Future<Output = Result<Action, E>> + Send + 'static,
    E: std::error::Error + Send + 'static,
{
    let results = controller.run(
        move |object, ctx| {
            let reconcile = reconcile.clone();
            async move {
                let result =
                    reconcile(std::sync::Arc::clone(&object), std::sync::Arc::clone(&ctx)).await;
                if result.is_ok() {
                    reconciled(ctx.backoff(), &*object);
                }
                result
            }
        },
        move |object, error, ctx| requeue_failed(ctx.backoff(), name, &*object, error),
        ctx,
    );
    drain(results, name).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{ConfigMap, Secret};
    use std::time::Duration;

    fn named<K: Resource<DynamicType = ()> + Default>(namespace: &str, name: &str) -> K {
        let mut object = K::default();
        object.meta_mut().namespace = Some(namespace.into());
        object.meta_mut().name = Some(name.into());
        object
    }

    #[test]
    fn objects_back_off_per_kind_namespace_and_name() {
        let backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(8));
        let a: ConfigMap = named("shop", "a");
        let requeue = |object: &ConfigMap| requeue_failed(&backoff, "test", object, &"boom");
        assert_eq!(requeue(&a), Action::requeue(Duration::from_secs(1)));
        assert_eq!(requeue(&a), Action::requeue(Duration::from_secs(2)));
        assert_eq!(
            requeue(&named("other", "a")),
            Action::requeue(Duration::from_secs(1)),
            "another namespace"
        );
        let secret: Secret = named("shop", "a");
        assert_eq!(
            requeue_failed(&backoff, "test", &secret, &"boom"),
            Action::requeue(Duration::from_secs(1)),
            "another kind"
        );
        reconciled(&backoff, &a);
        assert_eq!(requeue(&a), Action::requeue(Duration::from_secs(1)));
    }

    #[tokio::test]
    async fn drain_consumes_every_result_failed_or_not() {
        let seen = std::cell::Cell::new(0);
        let results = futures::stream::iter([Ok(1), Err("lost"), Ok(2)])
            .inspect(|_| seen.set(seen.get() + 1));
        drain(results, "test").await;
        assert_eq!(seen.get(), 3);
    }
}
