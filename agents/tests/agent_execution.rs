//! The agent's execution controller between a federation and a member apiserver: Works are
//! applied to the member, kept in sync and reported on, conflicts are refused unless the policy
//! allows a takeover, and a deleted Work removes (or releases) what it applied.

mod support;

use anyhow::Context as _;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Service};
use karmada_agents::agent::execution::{self, Config};
use karmada_agents::member::controllers::service;
use karmada_agents::member::runtime::Context;
use karmada_api::work::work::{
    CONDITION_APPLIED, CONDITION_DISPATCHING, ResourceHealth, WORK_NAME_ANNOTATION,
    WORK_NAMESPACE_ANNOTATION, Work, WorkSpec, WorkloadTemplate,
};
use karmada_propagation::binding::{
    CONFLICT_RESOLUTION_ANNOTATION, EXECUTION_CONTROLLER_FINALIZER, MANAGED_BY_KARMADA_LABEL,
};
use kube::api::{DeleteParams, ObjectMeta, Patch, PatchParams, PostParams};
use kube::{Api, Client, ResourceExt};
use serde_json::{Value, json};
use support::{Apiserver, eventually};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

const CLUSTER: &str = "member1";
const NAMESPACE: &str = "karmada-es-member1";

/// A running agent and the means to stop it.
struct Agent {
    cancel: CancellationToken,
    task: JoinHandle<Result<(), execution::Error>>,
}

impl Agent {
    fn start(federation: &Client, member: &Client) -> Self {
        let cancel = CancellationToken::new();
        let config = Config::new(federation.clone(), member.clone(), CLUSTER);
        let task = tokio::spawn(execution::run(config, cancel.clone()));
        Self { cancel, task }
    }

    async fn stop(self) -> anyhow::Result<()> {
        self.cancel.cancel();
        self.task.await??;
        Ok(())
    }
}

/// A federation with the member's execution namespace, a member, and an agent between them.
struct Env {
    federation: Apiserver,
    member: Apiserver,
    works: Api<Work>,
    /// `None` while a test has it stopped.
    agent: Option<Agent>,
}

impl Env {
    async fn start() -> anyhow::Result<Self> {
        let federation = support::federation().await?;
        let member = support::apiserver().await?;
        let namespace = Namespace {
            metadata: ObjectMeta {
                name: Some(NAMESPACE.into()),
                ..Default::default()
            },
            ..Default::default()
        };
        Api::<Namespace>::all(federation.client.clone())
            .create(&PostParams::default(), &namespace)
            .await?;
        let works = Api::namespaced(federation.client.clone(), NAMESPACE);
        let agent = Some(Agent::start(&federation.client, &member.client));
        Ok(Self {
            federation,
            member,
            works,
            agent,
        })
    }

    fn member_api<K>(&self) -> Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>,
        <K as kube::Resource>::DynamicType: Default,
    {
        Api::namespaced(self.member.client.clone(), "default")
    }

    async fn create(
        &self,
        name: &str,
        manifest: Value,
        tweak: impl FnOnce(&mut Work),
    ) -> anyhow::Result<()> {
        let mut work = Work::new(
            name,
            WorkSpec {
                workload: WorkloadTemplate {
                    manifests: vec![manifest.as_object().cloned().context("an object")?],
                },
                ..Default::default()
            },
        );
        work.metadata.finalizers = Some(vec![EXECUTION_CONTROLLER_FINALIZER.into()]);
        tweak(&mut work);
        self.works.create(&PostParams::default(), &work).await?;
        Ok(())
    }

    /// Replaces the Work's manifest (and spec flags) with a merge patch of its spec.
    async fn patch_spec(&self, name: &str, spec: Value) -> anyhow::Result<()> {
        self.works
            .patch(
                name,
                &PatchParams::default(),
                &Patch::Merge(json!({"spec": spec})),
            )
            .await?;
        Ok(())
    }

    /// Waits until the Work's `type` condition has `status`, and returns it as JSON.
    async fn condition(&self, name: &str, type_: &str, status: &str) -> anyhow::Result<Value> {
        eventually(
            &format!("Work {name} condition {type_}={status}"),
            || async {
                let work = self.works.get(name).await?;
                let conditions = work.status.map(|s| s.conditions).unwrap_or_default();
                Ok(match conditions.iter().find(|c| c.type_ == type_) {
                    Some(c) if c.status == status => Ok(serde_json::to_value(c)?),
                    other => Err(format!("{other:?}")),
                })
            },
        )
        .await
    }
}

fn config_map(data: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap",
           "metadata": {"name": "settings", "namespace": "default", "labels": {"app": "web"}},
           "data": {"mode": data}})
}

fn deployment(image: &str) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment",
           "metadata": {"name": "web", "namespace": "default"},
           "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                    "template": {"metadata": {"labels": {"app": "web"}},
                                 "spec": {"containers": [{"name": "web", "image": image}]}}}})
}

/// The member ConfigMap once its `mode` is `want`.
async fn member_config_map(env: &Env, want: &str) -> anyhow::Result<ConfigMap> {
    let api: Api<ConfigMap> = env.member_api();
    eventually(&format!("member ConfigMap with mode={want}"), || async {
        Ok(match api.get_opt("settings").await? {
            Some(cm) if mode(&cm) == Some(want) => Ok(cm),
            other => Err(format!("{:?}", other.map(|cm| cm.data))),
        })
    })
    .await
}

fn mode(cm: &ConfigMap) -> Option<&str> {
    cm.data.as_ref()?.get("mode").map(String::as_str)
}

#[tokio::test]
async fn work_is_applied_and_follows_changes() -> anyhow::Result<()> {
    let env = Env::start().await?;
    env.create("settings-cm", config_map("blue"), |_| {})
        .await?;

    let applied = member_config_map(&env, "blue").await?;
    assert_eq!(applied.labels()["app"], "web");
    assert_eq!(applied.labels()[MANAGED_BY_KARMADA_LABEL], "true");
    assert_eq!(applied.annotations()[WORK_NAMESPACE_ANNOTATION], NAMESPACE);
    assert_eq!(applied.annotations()[WORK_NAME_ANNOTATION], "settings-cm");

    let condition = env
        .condition("settings-cm", CONDITION_APPLIED, "True")
        .await?;
    assert_eq!(condition["reason"], "AppliedSuccessful");
    env.condition("settings-cm", CONDITION_DISPATCHING, "True")
        .await?;
    let status = env
        .works
        .get("settings-cm")
        .await?
        .status
        .context("status")?;
    let identifier = &status.manifest_statuses[0].identifier;
    assert_eq!(
        (
            identifier.kind.as_str(),
            identifier.resource.as_str(),
            identifier.name.as_str()
        ),
        ("ConfigMap", "configmaps", "settings")
    );

    env.patch_spec(
        "settings-cm",
        json!({"workload": {"manifests": [config_map("green")]}}),
    )
    .await?;
    let updated = member_config_map(&env, "green").await?;
    assert_eq!(
        updated.uid(),
        applied.uid(),
        "an update must not recreate the object"
    );
    Ok(())
}

#[tokio::test]
async fn member_status_flows_back_into_the_work() -> anyhow::Result<()> {
    let env = Env::start().await?;
    env.create("web-deployment", deployment("nginx:1.27"), |_| {})
        .await?;
    let deployments: Api<Deployment> = env.member_api();
    let generation = eventually("member Deployment", || async {
        Ok(match deployments.get_opt("web").await? {
            Some(d) => Ok(d.metadata.generation.unwrap_or_default()),
            None => Err("absent".to_string()),
        })
    })
    .await?;

    let status = json!({"status": {"observedGeneration": generation, "replicas": 2,
        "updatedReplicas": 2, "readyReplicas": 2, "availableReplicas": 2}});
    deployments
        .patch_status("web", &PatchParams::default(), &Patch::Merge(&status))
        .await?;
    eventually("ready replicas reported on the Work", || async {
        let work = env.works.get("web-deployment").await?;
        let reported = work
            .status
            .and_then(|s| s.manifest_statuses.into_iter().next())
            .and_then(|m| m.status);
        Ok(match reported {
            Some(s) if s.get("readyReplicas") == Some(&json!(2)) => Ok(()),
            other => Err(format!("{other:?}")),
        })
    })
    .await?;
    let work = env.works.get("web-deployment").await?;
    let manifest = &work.status.context("status")?.manifest_statuses[0];
    assert_eq!(manifest.identifier.resource, "deployments");
    assert_eq!(manifest.identifier.group, "apps");
    assert_eq!(manifest.health, Some(ResourceHealth::Healthy));
    Ok(())
}

#[tokio::test]
async fn service_keeps_the_fields_the_member_owns() -> anyhow::Result<()> {
    let env = Env::start().await?;
    let service = |port: u16| {
        json!({"apiVersion": "v1", "kind": "Service",
               "metadata": {"name": "web", "namespace": "default"},
               "spec": {"selector": {"app": "web"}, "ports": [{"port": port, "protocol": "TCP"}]}})
    };
    // The member's service controller allocates the clusterIP, a field the Work never sets.
    let stop = CancellationToken::new();
    let ctx = Context::new(
        env.member.client.clone(),
        "service-controller",
        stop.clone(),
    );
    let controller = tokio::spawn(service::run(ctx, service::ServiceConfig::default()));
    env.create("web-service", service(80), |_| {}).await?;
    let services: Api<Service> = env.member_api();
    let cluster_ip = |s: &Service| s.spec.as_ref().and_then(|s| s.cluster_ip.clone());
    let port = |s: &Service| {
        s.spec
            .as_ref()
            .and_then(|s| s.ports.as_ref())
            .and_then(|p| p.first())
            .map(|p| p.port)
    };
    let first = eventually("member Service with a clusterIP", || async {
        Ok(match services.get_opt("web").await? {
            Some(s) if cluster_ip(&s).is_some_and(|ip| !ip.is_empty()) => Ok(s),
            other => Err(format!("{:?}", other.map(|s| s.spec))),
        })
    })
    .await?;

    env.patch_spec(
        "web-service",
        json!({"workload": {"manifests": [service(8080)]}}),
    )
    .await?;
    let second = eventually("member Service on port 8080", || async {
        Ok(match services.get_opt("web").await? {
            Some(s) if port(&s) == Some(8080) => Ok(s),
            other => Err(format!("{:?}", other.map(|s| s.spec))),
        })
    })
    .await?;
    assert_eq!(cluster_ip(&second), cluster_ip(&first));
    assert_eq!(second.uid(), first.uid());
    stop.cancel();
    controller.await??;
    Ok(())
}

#[tokio::test]
async fn existing_objects_are_taken_over_only_when_the_policy_says_overwrite() -> anyhow::Result<()>
{
    let env = Env::start().await?;
    let api: Api<ConfigMap> = env.member_api();
    let mut existing: ConfigMap = serde_json::from_value(config_map("theirs"))?;
    existing.metadata.namespace = None;
    api.create(&PostParams::default(), &existing).await?;

    let with_resolution = |mode: &str, resolution: &str| {
        let mut manifest = config_map(mode);
        manifest["metadata"]["annotations"] = json!({CONFLICT_RESOLUTION_ANNOTATION: resolution});
        manifest
    };
    env.create("settings-cm", with_resolution("ours", "abort"), |_| {})
        .await?;
    let refused = env
        .condition("settings-cm", CONDITION_APPLIED, "False")
        .await?;
    assert_eq!(refused["reason"], "AppliedFailed");
    let message = refused["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("already exists in cluster member1")
            && message.contains("not managed by Karmada")
            && message.contains("conflictResolution: Overwrite"),
        "{message}"
    );
    let untouched = api.get("settings").await?;
    assert_eq!(mode(&untouched), Some("theirs"));
    assert!(!untouched.labels().contains_key(MANAGED_BY_KARMADA_LABEL));

    env.patch_spec(
        "settings-cm",
        json!({"workload": {"manifests": [with_resolution("ours", "overwrite")]}}),
    )
    .await?;
    let taken = member_config_map(&env, "ours").await?;
    assert_eq!(taken.uid(), untouched.uid());
    assert_eq!(taken.annotations()[WORK_NAME_ANNOTATION], "settings-cm");
    env.condition("settings-cm", CONDITION_APPLIED, "True")
        .await?;
    Ok(())
}

#[tokio::test]
async fn suspended_work_applies_nothing_until_resumed() -> anyhow::Result<()> {
    let env = Env::start().await?;
    env.create("settings-cm", config_map("blue"), |w| {
        w.spec.suspend_dispatching = Some(true);
    })
    .await?;
    let suspended = env
        .condition("settings-cm", CONDITION_DISPATCHING, "False")
        .await?;
    assert_eq!(suspended["reason"], "SuspendDispatching");
    let api: Api<ConfigMap> = env.member_api();
    assert!(api.get_opt("settings").await?.is_none());
    let work = env.works.get("settings-cm").await?;
    let conditions = work.status.context("status")?.conditions;
    assert!(!conditions.iter().any(|c| c.type_ == CONDITION_APPLIED));

    env.patch_spec("settings-cm", json!({"suspendDispatching": false}))
        .await?;
    member_config_map(&env, "blue").await?;
    env.condition("settings-cm", CONDITION_DISPATCHING, "True")
        .await?;
    Ok(())
}

/// Deletes the Work and waits until the finalizer let it go.
async fn delete_work(env: &Env, name: &str) -> anyhow::Result<()> {
    env.works.delete(name, &DeleteParams::default()).await?;
    eventually(&format!("Work {name} gone"), || async {
        Ok(match env.works.get_opt(name).await? {
            None => Ok(()),
            Some(w) => Err(format!("finalizers {:?}", w.finalizers())),
        })
    })
    .await
}

#[tokio::test]
async fn deleting_a_work_deletes_its_member_object() -> anyhow::Result<()> {
    let env = Env::start().await?;
    env.create("settings-cm", config_map("blue"), |_| {})
        .await?;
    member_config_map(&env, "blue").await?;
    delete_work(&env, "settings-cm").await?;
    let api: Api<ConfigMap> = env.member_api();
    eventually("member ConfigMap deleted", || async {
        Ok(match api.get_opt("settings").await? {
            None => Ok(()),
            Some(cm) => Err(format!("still there: {:?}", cm.metadata.deletion_timestamp)),
        })
    })
    .await
}

#[tokio::test]
async fn preserved_resources_stay_without_karmada_marks() -> anyhow::Result<()> {
    let env = Env::start().await?;
    env.create("settings-cm", config_map("blue"), |w| {
        w.spec.preserve_resources_on_deletion = Some(true);
    })
    .await?;
    let applied = member_config_map(&env, "blue").await?;
    delete_work(&env, "settings-cm").await?;
    let api: Api<ConfigMap> = env.member_api();
    let kept = api.get("settings").await?;
    assert_eq!(kept.uid(), applied.uid());
    assert_eq!(mode(&kept), Some("blue"));
    assert_eq!(kept.labels().get("app").map(String::as_str), Some("web"));
    assert!(!kept.labels().contains_key(MANAGED_BY_KARMADA_LABEL));
    assert!(
        !kept
            .annotations()
            .keys()
            .any(|k| k.starts_with("work.karmada.io/")),
        "{:?}",
        kept.annotations()
    );
    Ok(())
}

#[tokio::test]
async fn a_restarted_agent_applies_changes_made_while_it_was_away() -> anyhow::Result<()> {
    let mut env = Env::start().await?;
    env.create("settings-cm", config_map("blue"), |_| {})
        .await?;
    let before = member_config_map(&env, "blue").await?;
    env.agent.take().context("a running agent")?.stop().await?;
    env.patch_spec(
        "settings-cm",
        json!({"workload": {"manifests": [config_map("green")]}}),
    )
    .await?;
    env.agent = Some(Agent::start(&env.federation.client, &env.member.client));
    let after = member_config_map(&env, "green").await?;
    assert_eq!(after.uid(), before.uid());
    Ok(())
}

#[tokio::test]
async fn a_member_object_deleted_by_someone_else_is_put_back() -> anyhow::Result<()> {
    let env = Env::start().await?;
    env.create("settings-cm", config_map("blue"), |_| {})
        .await?;
    let first = member_config_map(&env, "blue").await?;
    let api: Api<ConfigMap> = env.member_api();
    api.delete("settings", &DeleteParams::default()).await?;
    let again = eventually("member ConfigMap re-created", || async {
        Ok(match api.get_opt("settings").await? {
            Some(cm) if cm.uid() != first.uid() => Ok(cm),
            other => Err(format!("{:?}", other.map(|cm| cm.uid()))),
        })
    })
    .await?;
    assert_eq!(mode(&again), Some("blue"));
    Ok(())
}

/// An edit made in the member to what the Work sets is undone: a Deployment's spec (its
/// generation moves), a ConfigMap's data (its resourceVersion moves), and a label the agent
/// stamps that someone removed.
#[tokio::test]
async fn member_edits_to_what_the_work_sets_are_undone() -> anyhow::Result<()> {
    let env = Env::start().await?;
    env.create("settings-cm", config_map("blue"), |_| {})
        .await?;
    env.create("web-deploy", deployment("nginx:1"), |_| {})
        .await?;
    member_config_map(&env, "blue").await?;
    let deployments: Api<Deployment> = env.member_api();
    let image = |d: &Deployment| {
        d.spec
            .as_ref()
            .and_then(|s| s.template.spec.as_ref()?.containers.first()?.image.clone())
    };
    eventually("member Deployment", || async {
        Ok(match deployments.get_opt("web").await? {
            Some(d) if image(&d).as_deref() == Some("nginx:1") => Ok(()),
            other => Err(format!("{:?}", other.map(|d| image(&d)))),
        })
    })
    .await?;

    let configs: Api<ConfigMap> = env.member_api();
    let edit = PatchParams::default();
    configs
        .patch(
            "settings",
            &edit,
            &Patch::Merge(json!({"data": {"mode": "red"}})),
        )
        .await?;
    member_config_map(&env, "blue").await?;

    deployments
        .patch(
            "web",
            &edit,
            &Patch::Strategic(json!({"spec": {"template": {"spec": {"containers": [
                {"name": "web", "image": "nginx:2"}]}}}})),
        )
        .await?;
    let restored = eventually("member Deployment image put back", || async {
        Ok(match deployments.get("web").await? {
            d if image(&d).as_deref() == Some("nginx:1") => Ok(d),
            d => Err(format!("{:?}", image(&d))),
        })
    })
    .await?;
    assert!(
        restored.metadata.generation >= Some(3),
        "edited, then applied again"
    );

    let unlabel = json!({"metadata": {"labels": {MANAGED_BY_KARMADA_LABEL: null}}});
    deployments
        .patch("web", &edit, &Patch::Merge(unlabel))
        .await?;
    eventually("Karmada's label put back", || async {
        let d = deployments.get("web").await?;
        Ok(match d.labels().get(MANAGED_BY_KARMADA_LABEL) {
            Some(v) if v == "true" => Ok(()),
            other => Err(format!("{other:?}")),
        })
    })
    .await?;
    Ok(())
}
