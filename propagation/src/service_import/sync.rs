//! The writes of the ServiceImport controller: the import and its status, and the derived
//! Service and imported slices (see [`super::derived`]) made from it.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use karmada_api::mcs::{ServiceExport, ServiceImport, derived_service_name};
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};
use serde_json::json;

use super::derived::{
    ServiceChange, derived_service, imported_slices, slice_up_to_date, surplus_slices,
    updated_service,
};
use super::desired::{owner_reference, updated_import};
use super::{Context, Error};

/// Creates the import or brings what this controller owns of it to `want`, then its status.
pub async fn write_import(imports: &Api<ServiceImport>, want: ServiceImport) -> Result<(), Error> {
    let name = want.name_any();
    let namespace = want.namespace().unwrap_or_default();
    let write_err = |source| Error::WriteImport {
        namespace: namespace.clone(),
        name: name.clone(),
        source,
    };
    let have = imports
        .get_opt(&name)
        .await
        .map_err(|source| Error::ReadImport {
            namespace: namespace.clone(),
            name: name.clone(),
            source,
        })?;
    let have = match have {
        None => imports
            .create(&PostParams::default(), &want)
            .await
            .map_err(write_err)?,
        Some(have) => match updated_import(&have, &want) {
            None => have,
            Some(updated) => imports
                .replace(&name, &PostParams::default(), &updated)
                .await
                .map_err(write_err)?,
        },
    };
    let clusters = want.status.map(|s| s.clusters).unwrap_or_default();
    if have.status.clone().unwrap_or_default().clusters == clusters {
        return Ok(());
    }
    // A merge patch replaces the list whole, so an empty list clears it.
    let patch = json!({"status": {"clusters": clusters}});
    imports
        .patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map_err(|source| Error::ImportStatus {
            namespace,
            name,
            source,
        })?;
    Ok(())
}

/// Brings the derived Service and the imported slices of `import` to what the reported slices
/// and the clusters' readiness say.
pub async fn write_derived(
    ctx: &Context,
    export: &ServiceExport,
    import: &ServiceImport,
) -> Result<(), Error> {
    let namespace = import.namespace().unwrap_or_default();
    let name = import.name_any();
    let owner = owner_reference(export);
    write_service(ctx, &namespace, derived_service(import, &owner)).await?;
    let clusters: BTreeMap<String, bool> = ctx
        .clusters
        .state()
        .iter()
        .map(|c| (c.name_any(), c.is_ready()))
        .collect();
    let reported = ctx.slices.state();
    let want = imported_slices(
        &namespace,
        &name,
        reported.iter().map(Arc::as_ref),
        &clusters,
        &owner,
    );
    write_slices(ctx, &namespace, &name, want).await
}

/// Deletes the derived Service and imported slices of the import `namespace`/`name`, whose
/// Service is gone.
pub async fn remove_derived(ctx: &Context, namespace: &str, name: &str) -> Result<(), Error> {
    let derived = derived_service_name(name);
    let services: Api<Service> = Api::namespaced(ctx.client.clone(), namespace);
    delete(&services, &derived, "Service", namespace).await?;
    write_slices(ctx, namespace, name, BTreeMap::new()).await
}

async fn write_service(ctx: &Context, namespace: &str, want: Service) -> Result<(), Error> {
    let api: Api<Service> = Api::namespaced(ctx.client.clone(), namespace);
    let name = want.name_any();
    let err = |source| Error::WriteDerived {
        kind: "Service",
        namespace: namespace.to_string(),
        name: name.clone(),
        source,
    };
    let Some(have) = api.get_opt(&name).await.map_err(err)? else {
        api.create(&PostParams::default(), &want)
            .await
            .map_err(err)?;
        tracing::info!(%namespace, %name, "created the derived Service");
        return Ok(());
    };
    match updated_service(&have, &want) {
        None => {}
        Some(ServiceChange::Update(updated)) => {
            api.replace(&name, &PostParams::default(), &updated)
                .await
                .map_err(err)?;
        }
        Some(ServiceChange::Recreate) => {
            delete(&api, &name, "Service", namespace).await?;
            api.create(&PostParams::default(), &want)
                .await
                .map_err(err)?;
        }
    }
    Ok(())
}

/// Creates, rewrites and deletes the imported slices of the Service `namespace`/`name` until
/// they are `want`.
async fn write_slices(
    ctx: &Context,
    namespace: &str,
    name: &str,
    want: BTreeMap<String, EndpointSlice>,
) -> Result<(), Error> {
    let api: Api<EndpointSlice> = Api::namespaced(ctx.client.clone(), namespace);
    let existing = ctx.imported.state();
    let have: BTreeMap<String, &EndpointSlice> = existing
        .iter()
        .filter(|s| s.namespace().as_deref() == Some(namespace))
        .map(|s| (s.name_any(), s.as_ref()))
        .collect();
    for (slice_name, slice) in &want {
        let err = |source| Error::WriteDerived {
            kind: "EndpointSlice",
            namespace: namespace.to_string(),
            name: slice_name.clone(),
            source,
        };
        match have.get(slice_name) {
            None => {
                api.create(&PostParams::default(), slice)
                    .await
                    .map_err(err)?;
            }
            Some(have) if !slice_up_to_date(have, slice) => {
                let mut updated = (*have).clone();
                updated.labels_mut().extend(slice.labels().clone());
                updated.metadata.owner_references = slice.metadata.owner_references.clone();
                updated.address_type = slice.address_type.clone();
                updated.endpoints = slice.endpoints.clone();
                updated.ports = slice.ports.clone();
                api.replace(slice_name, &PostParams::default(), &updated)
                    .await
                    .map_err(err)?;
            }
            Some(_) => {}
        }
    }
    let surplus = surplus_slices(namespace, name, existing.iter().map(Arc::as_ref), &want);
    for slice_name in surplus {
        delete(&api, &slice_name, "EndpointSlice", namespace).await?;
    }
    Ok(())
}

/// Deletes `name`, which may already be gone.
async fn delete<K>(
    api: &Api<K>,
    name: &str,
    kind: &'static str,
    namespace: &str,
) -> Result<(), Error>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    delete_if_present(api, name)
        .await
        .map(drop)
        .map_err(|source| Error::WriteDerived {
            kind,
            namespace: namespace.to_string(),
            name: name.to_string(),
            source,
        })
}

/// Deletes `name` unless it is already gone; whether this call deleted it.
pub(super) async fn delete_if_present<K>(api: &Api<K>, name: &str) -> Result<bool, kube::Error>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    match api.delete(name, &DeleteParams::default()).await {
        Ok(_) => Ok(true),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(false),
        Err(e) => Err(e),
    }
}
