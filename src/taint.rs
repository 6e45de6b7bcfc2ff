//! `karmada cordon`, `uncordon` and `taint`: an operator's hand on cluster taints, as
//! `karmadactl` and `kubectl taint` give it. Cordoning adds the NoSchedule taint
//! `cluster.karmada.io/unschedulable` (nothing new is placed there; what runs stays); a NoExecute
//! taint moves the workloads that do not tolerate it elsewhere.

use std::path::PathBuf;

use anyhow::{Context as _, bail};
use k8s_openapi::api::core::v1::Taint;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use karmada_api::cluster::Cluster;
use karmada_runtime::conflict::write_fresh;
use kube::Api;
use kube::api::PostParams;

/// The taint of a cordoned cluster.
pub const UNSCHEDULABLE_TAINT: &str = "cluster.karmada.io/unschedulable";
const EFFECTS: [&str; 3] = ["NoSchedule", "PreferNoSchedule", "NoExecute"];

#[derive(clap::Args)]
pub struct CordonArgs {
    /// The cluster's name.
    name: String,
    /// Kubeconfig of the federation apiserver.
    #[arg(long)]
    kubeconfig: PathBuf,
}

#[derive(clap::Args)]
pub struct TaintArgs {
    /// The cluster's name.
    name: String,
    /// Taints to add as `key[=value]:Effect`, or to remove as `key[:Effect]-`; Effect is
    /// NoSchedule, PreferNoSchedule or NoExecute.
    #[arg(required = true, value_name = "TAINT")]
    taints: Vec<String>,
    /// Replace the value of a taint that is already there with the same key and effect.
    #[arg(long)]
    overwrite: bool,
    /// Kubeconfig of the federation apiserver.
    #[arg(long)]
    kubeconfig: PathBuf,
}

/// One change asked for on the command line.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    Add(Taint),
    /// Remove the taints with this key (and this effect, when given).
    Remove {
        key: String,
        effect: Option<String>,
    },
}

/// Parses `key[=value]:Effect` (add) or `key[:Effect]-` (remove).
pub fn parse(spec: &str) -> Result<Change, String> {
    let check_effect = |effect: &str| {
        if EFFECTS.contains(&effect) {
            Ok(())
        } else {
            Err(format!(
                "{spec:?}: effect {effect:?} is not one of {}",
                EFFECTS.join(", ")
            ))
        }
    };
    let check_key = |key: &str| {
        if key.is_empty() {
            Err(format!("{spec:?}: the taint has no key"))
        } else {
            Ok(())
        }
    };
    if let Some(rest) = spec.strip_suffix('-') {
        let (key, effect) = match rest.split_once(':') {
            Some((key, effect)) => {
                check_effect(effect)?;
                (key, Some(effect.to_string()))
            }
            None => (rest, None),
        };
        check_key(key)?;
        return Ok(Change::Remove {
            key: key.to_string(),
            effect,
        });
    }
    let Some((key_value, effect)) = spec.rsplit_once(':') else {
        return Err(format!(
            "{spec:?} is not key[=value]:Effect (to add) or key[:Effect]- (to remove)"
        ));
    };
    check_effect(effect)?;
    let (key, value) = match key_value.split_once('=') {
        Some((key, value)) => (key, Some(value.to_string())),
        None => (key_value, None),
    };
    check_key(key)?;
    Ok(Change::Add(Taint {
        key: key.to_string(),
        value,
        effect: effect.to_string(),
        time_added: None,
    }))
}

/// `taints` with `changes` made at `now`, as `kubectl taint` makes them: adding a taint whose
/// key and effect are there with another value needs `overwrite`; removing one that is not
/// there is an error.
pub fn apply(
    taints: &[Taint],
    changes: &[Change],
    overwrite: bool,
    now: Timestamp,
) -> Result<Vec<Taint>, String> {
    let mut out = taints.to_vec();
    for change in changes {
        match change {
            Change::Add(taint) => {
                match out
                    .iter_mut()
                    .find(|t| t.key == taint.key && t.effect == taint.effect)
                {
                    Some(existing) if existing.value == taint.value => {}
                    Some(_) if !overwrite => {
                        return Err(format!(
                            "the cluster already has the taint {}:{} with another value; pass --overwrite to replace it",
                            taint.key, taint.effect
                        ));
                    }
                    Some(existing) => {
                        existing.value.clone_from(&taint.value);
                        existing.time_added = Some(Time(now));
                    }
                    None => out.push(Taint {
                        time_added: Some(Time(now)),
                        ..taint.clone()
                    }),
                }
            }
            Change::Remove { key, effect } => {
                let before = out.len();
                out.retain(|t| !(&t.key == key && effect.as_ref().is_none_or(|e| &t.effect == e)));
                if out.len() == before {
                    let shown = effect
                        .as_ref()
                        .map_or(key.clone(), |e| format!("{key}:{e}"));
                    return Err(format!("the cluster has no taint {shown}"));
                }
            }
        }
    }
    Ok(out)
}

pub async fn cordon(args: CordonArgs) -> anyhow::Result<()> {
    let change = Change::Add(unschedulable());
    update(&args.kubeconfig, &args.name, &[change], false).await?;
    println!("cluster/{} cordoned", args.name);
    Ok(())
}

pub async fn uncordon(args: CordonArgs) -> anyhow::Result<()> {
    let client = crate::kubeconfig::client(&args.kubeconfig).await?;
    let cluster = Api::<Cluster>::all(client)
        .get_opt(&args.name)
        .await?
        .with_context(|| format!("cluster {} is not registered", args.name))?;
    if cluster.spec.taints.iter().any(is_cordon) {
        let change = Change::Remove {
            key: UNSCHEDULABLE_TAINT.into(),
            effect: Some("NoSchedule".into()),
        };
        update(&args.kubeconfig, &args.name, &[change], false).await?;
    }
    println!("cluster/{} uncordoned", args.name);
    Ok(())
}

pub async fn taint(args: TaintArgs) -> anyhow::Result<()> {
    let changes = args
        .taints
        .iter()
        .map(|spec| parse(spec))
        .collect::<Result<Vec<_>, _>>()
        .map_err(anyhow::Error::msg)?;
    let verb = if changes.iter().all(|c| matches!(c, Change::Remove { .. })) {
        "untainted"
    } else {
        "tainted"
    };
    update(&args.kubeconfig, &args.name, &changes, args.overwrite).await?;
    println!("cluster/{} {verb}", args.name);
    Ok(())
}

fn unschedulable() -> Taint {
    Taint {
        key: UNSCHEDULABLE_TAINT.into(),
        effect: "NoSchedule".into(),
        value: None,
        time_added: None,
    }
}

fn is_cordon(taint: &Taint) -> bool {
    taint.key == UNSCHEDULABLE_TAINT && taint.effect == "NoSchedule"
}

/// Makes `changes` on cluster `name`'s taints, against the latest version if another writer
/// (the health controller, a taint policy) got there first.
async fn update(
    kubeconfig: &std::path::Path,
    name: &str,
    changes: &[Change],
    overwrite: bool,
) -> anyhow::Result<()> {
    let client = crate::kubeconfig::client(kubeconfig).await?;
    let api: Api<Cluster> = Api::all(client);
    let Some(cluster) = api.get_opt(name).await? else {
        bail!("cluster {name} is not registered");
    };
    // Refused changes are reported as such, from whichever version of the cluster was read.
    let refused = std::cell::RefCell::new(None);
    write_fresh(
        cluster,
        5,
        |mut cluster: Cluster| {
            let result = apply(&cluster.spec.taints, changes, overwrite, Timestamp::now());
            let api = api.clone();
            let refused = &refused;
            async move {
                let taints = match result {
                    Ok(taints) => taints,
                    Err(e) => {
                        refused.replace(Some(e));
                        return Ok(());
                    }
                };
                if taints == cluster.spec.taints {
                    return Ok(());
                }
                cluster.spec.taints = taints;
                api.replace(name, &PostParams::default(), &cluster)
                    .await
                    .map(drop)
            }
        },
        || api.get(name),
    )
    .await
    .with_context(|| format!("cannot update cluster {name}"))?;
    match refused.into_inner() {
        Some(e) => bail!("cluster {name}: {e}"),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + seconds).unwrap()
    }

    fn shown(taints: &[Taint]) -> Vec<String> {
        taints
            .iter()
            .map(|t| match &t.value {
                Some(v) => format!("{}={v}:{}", t.key, t.effect),
                None => format!("{}:{}", t.key, t.effect),
            })
            .collect()
    }

    #[test]
    fn taint_specs_parse_like_kubectl_taint() {
        assert_eq!(
            parse("dedicated=gpu:NoSchedule"),
            Ok(Change::Add(Taint {
                key: "dedicated".into(),
                value: Some("gpu".into()),
                effect: "NoSchedule".into(),
                time_added: None,
            }))
        );
        assert!(matches!(parse("maintenance:NoExecute"), Ok(Change::Add(t)) if t.value.is_none()));
        assert_eq!(
            parse("dedicated-"),
            Ok(Change::Remove {
                key: "dedicated".into(),
                effect: None
            })
        );
        assert_eq!(
            parse("dedicated:NoSchedule-"),
            Ok(Change::Remove {
                key: "dedicated".into(),
                effect: Some("NoSchedule".into())
            })
        );
        for bad in [
            "dedicated",
            "dedicated=gpu:Sometimes",
            ":NoSchedule",
            "=v:NoExecute",
            "k:Bad-",
        ] {
            assert!(parse(bad).is_err(), "{bad} should be refused");
        }
        let err = parse("k=v:Sometimes").unwrap_err();
        assert!(
            err.contains("NoSchedule, PreferNoSchedule, NoExecute"),
            "{err}"
        );
    }

    #[test]
    fn changes_apply_like_kubectl_taint() {
        let base = vec![Taint {
            key: "dedicated".into(),
            value: Some("gpu".into()),
            effect: "NoSchedule".into(),
            time_added: Some(Time(at(1))),
        }];
        let add = |s: &str| parse(s).unwrap();
        // Adding something new stamps it; adding the same again changes nothing.
        let out = apply(&base, &[add("maintenance:NoExecute")], false, at(5)).unwrap();
        assert_eq!(
            shown(&out),
            ["dedicated=gpu:NoSchedule", "maintenance:NoExecute"]
        );
        assert_eq!(out[1].time_added, Some(Time(at(5))));
        assert_eq!(
            apply(&base, &[add("dedicated=gpu:NoSchedule")], false, at(5)).unwrap(),
            base
        );
        // Another value needs --overwrite.
        let err = apply(&base, &[add("dedicated=cpu:NoSchedule")], false, at(5)).unwrap_err();
        assert!(err.contains("--overwrite"), "{err}");
        let out = apply(&base, &[add("dedicated=cpu:NoSchedule")], true, at(5)).unwrap();
        assert_eq!(shown(&out), ["dedicated=cpu:NoSchedule"]);
        // Removing by key, by key and effect, and something that is not there.
        assert!(
            apply(&base, &[add("dedicated-")], false, at(5))
                .unwrap()
                .is_empty()
        );
        let err = apply(&base, &[add("dedicated:NoExecute-")], false, at(5)).unwrap_err();
        assert!(err.contains("no taint dedicated:NoExecute"), "{err}");
    }
}
