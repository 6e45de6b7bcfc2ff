//! The member-side actions for one manifest: apply it when the member's copy is absent, ours or
//! may be taken over, observe what the member made of it, and delete or release it when its
//! Work goes.

use karmada_api::work::work::ManifestStatus;
use karmada_propagation::status::manifest_status;
use kube::Api;
use kube::api::{DeleteParams, DynamicObject, Patch, PatchParams};
use serde_json::{Map, Value};

use super::manifest::{self, Target, WorkRef};
use super::resources::{Resolved, not_served};
use super::{Context, Error, FIELD_MANAGER, member_message};

/// Namespaced manifests without a namespace land here, as `kubectl apply` would put them.
const DEFAULT_NAMESPACE: &str = "default";

/// A manifest matched to the member resource that serves it.
struct Located {
    target: Target,
    resolved: Resolved,
    namespace: Option<String>,
    api: Api<DynamicObject>,
}

impl Located {
    fn describe(&self) -> String {
        self.target.describe(self.namespace.as_deref())
    }
}

async fn locate(
    ctx: &Context,
    manifest: &Map<String, Value>,
    ordinal: usize,
) -> Result<Located, Error> {
    let target = manifest::target(manifest, ordinal).map_err(Error::Manifest)?;
    let resolved = ctx
        .resources
        .resolve(&target.gvk)
        .await
        .map_err(|source| Error::Discovery {
            cluster: ctx.cluster.clone(),
            api_version: target.gvk.api_version(),
            kind: target.gvk.kind.clone(),
            source: Box::new(source),
        })?;
    let member = ctx.member.clone();
    let (namespace, api) = if resolved.namespaced {
        let ns = target
            .namespace
            .clone()
            .unwrap_or_else(|| DEFAULT_NAMESPACE.to_string());
        let api = Api::namespaced_with(member, &ns, &resolved.resource);
        (Some(ns), api)
    } else {
        (None, Api::all_with(member, &resolved.resource))
    };
    Ok(Located {
        target,
        resolved,
        namespace,
        api,
    })
}

impl Context {
    async fn live(&self, located: &Located) -> Result<Option<Value>, Error> {
        let object = located
            .api
            .get_opt(&located.target.name)
            .await
            .map_err(|source| Error::Read {
                object: located.describe(),
                cluster: self.cluster.clone(),
                source: Box::new(source),
            })?;
        object.map(|o| to_value(&o)).transpose()
    }

    /// Applies the manifest at `ordinal` of `work` (unless `suspended`, or an apply would
    /// change nothing) and returns what the member reports for it, `None` when there is no
    /// object of this Work to report on. `work_generation` is the Work's spec generation.
    pub(super) async fn sync_manifest(
        &self,
        work: WorkRef<'_>,
        work_generation: Option<i64>,
        ordinal: usize,
        manifest: &Map<String, Value>,
        suspended: bool,
    ) -> Result<Option<ManifestStatus>, Error> {
        let located = locate(self, manifest, ordinal).await?;
        self.triggers
            .ensure(&located.target.gvk, &located.resolved.resource);
        let live = self.live(&located).await?;
        if suspended {
            return Ok(live
                .filter(|live| manifest::is_ours(live, work))
                .and_then(|live| observe(&live, ordinal, &located)));
        }
        if let Some(live) = &live
            && !manifest::is_ours(live, work)
            && !manifest::may_overwrite(manifest)
        {
            return Err(Error::Conflict {
                object: located.describe(),
                cluster: self.cluster.clone(),
            });
        }
        let desired = manifest::desired(manifest, located.namespace.as_deref(), work);
        if let Some(live) = &live
            && self
                .applied
                .unchanged(work.name, ordinal, work_generation, &desired, live)
        {
            return Ok(observe(live, ordinal, &located));
        }
        let params = PatchParams::apply(FIELD_MANAGER).force();
        let applied = match located
            .api
            .patch(&located.target.name, &params, &Patch::Apply(&desired))
            .await
        {
            Ok(applied) => to_value(&applied)?,
            Err(source) => {
                self.applied.forget(work.name);
                // Apply creates missing objects, so a 404 means the resource (or the
                // namespace) is missing: the CRD may have been removed or replaced, so the
                // kind is looked up afresh next time.
                if matches!(&source, kube::Error::Api(status) if status.code == 404) {
                    self.resources.forget(&located.target.gvk);
                }
                return Err(Error::Apply {
                    object: located.describe(),
                    cluster: self.cluster.clone(),
                    message: member_message(&source),
                });
            }
        };
        self.applied
            .applied(work.name, ordinal, work_generation, &applied);
        Ok(observe(&applied, ordinal, &located))
    }

    /// Deletes the member object of the manifest at `ordinal` when it belongs to `work`, or,
    /// with `preserve`, leaves it in place without Karmada's marks.
    pub(super) async fn remove_manifest(
        &self,
        work: WorkRef<'_>,
        ordinal: usize,
        manifest: &Map<String, Value>,
        preserve: bool,
    ) -> Result<(), Error> {
        let located = match locate(self, manifest, ordinal).await {
            Ok(located) => located,
            // A manifest that names no object, or a kind the member does not serve, left
            // nothing behind.
            Err(Error::Manifest(_)) => return Ok(()),
            Err(Error::Discovery { source, .. }) if not_served(&source) => return Ok(()),
            Err(e) => return Err(e),
        };
        let Some(live) = self.live(&located).await? else {
            return Ok(());
        };
        if !manifest::is_ours(&live, work) {
            return Ok(());
        }
        let name = &located.target.name;
        let result = if preserve {
            let Some(patch) = manifest::release_patch(&live) else {
                return Ok(());
            };
            let params = PatchParams {
                field_manager: Some(FIELD_MANAGER.to_string()),
                ..PatchParams::default()
            };
            located
                .api
                .patch(name, &params, &Patch::Merge(&patch))
                .await
                .map(drop)
        } else {
            located
                .api
                .delete(name, &DeleteParams::background())
                .await
                .map(drop)
        };
        match result {
            Ok(()) => Ok(()),
            Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
            Err(source) => Err(Error::Remove {
                object: located.describe(),
                cluster: self.cluster.clone(),
                preserve,
                message: member_message(&source),
            }),
        }
    }
}

/// The manifest status for `live`; a status the reflection cannot read is left out (and
/// logged) rather than failing an apply that succeeded.
fn observe(live: &Value, ordinal: usize, located: &Located) -> Option<ManifestStatus> {
    let ordinal = i64::try_from(ordinal).unwrap_or(i64::MAX);
    match manifest_status(live, ordinal, &located.resolved.resource.plural) {
        Ok(status) => Some(status),
        Err(error) => {
            tracing::warn!(object = %located.describe(), %error, "cannot reflect member status");
            None
        }
    }
}

fn to_value(object: &DynamicObject) -> Result<Value, Error> {
    serde_json::to_value(object).map_err(Error::Encode)
}
