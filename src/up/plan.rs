//! What `karmada up` runs: the member clusters (name, topology, size, sync mode), the ports, and
//! the store. The layout is kept in `DIR/up.json` so that a restart with the same data directory
//! resumes the same federation, on the same ports.

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::{Context as _, bail, ensure};
use serde::{Deserialize, Serialize};

/// The layout file in the data directory.
pub const LAYOUT_FILE: &str = "up.json";

/// Region, zone and provider of the default members, in order; more members cycle through them.
/// Different regions and providers make the samples' region- and capacity-aware placements
/// visible.
const TOPOLOGY: [(&str, &str, &str); 6] = [
    ("us-east", "us-east-1a", "aws"),
    ("us-west", "us-west-1a", "gcp"),
    ("eu-central", "eu-central-1a", "azure"),
    ("ap-southeast", "ap-southeast-1a", "aws"),
    ("eu-west", "eu-west-1a", "gcp"),
    ("sa-east", "sa-east-1a", "azure"),
];
/// Nodes of the default members, in order (member1 has the most capacity); cycled.
const NODES: [usize; 3] = [3, 2, 1];
/// Every simulated node's size.
pub const NODE_CPU: &str = "8";
pub const NODE_MEMORY: &str = "32Gi";

/// How the federation reaches a member.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Mode {
    /// An agent runs beside the member and pulls its Works.
    Pull,
    /// The controller-manager applies Works to the member itself (`karmada join`).
    Push,
}

/// One member cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Member {
    pub name: String,
    pub region: String,
    pub zone: String,
    pub provider: String,
    pub nodes: usize,
    pub node_cpu: String,
    pub node_memory: String,
    pub mode: Mode,
    /// The member apiserver's port; 0 until the first start picked one.
    pub port: u16,
}

/// Everything `karmada up` starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Layout {
    /// The federation apiserver's port; 0 until the first start picked one.
    pub apiserver_port: u16,
    /// The DNS's port (UDP and TCP); 0 until the first start picked one.
    #[serde(default)]
    pub dns_port: u16,
    /// The federation's etcd; empty for the embedded store.
    #[serde(default)]
    pub etcd_endpoints: Vec<String>,
    pub members: Vec<Member>,
}

/// What the command line asked for; `None` where a flag was not given.
#[derive(Debug, Clone, Default)]
pub struct Request {
    pub members: Option<usize>,
    pub member_nodes: Option<usize>,
    pub push_members: Option<Vec<String>>,
    pub port: Option<u16>,
    pub dns_port: Option<u16>,
    pub etcd_endpoints: Option<Vec<String>>,
}

/// The layout to run: a new one from `request`, or `previous` (the data directory's) with the
/// port changed if asked. Flags that contradict the previous layout are refused rather than
/// silently ignored or applied to data made for another shape.
pub fn plan(request: &Request, previous: Option<Layout>) -> anyhow::Result<Layout> {
    let Some(mut layout) = previous else {
        return fresh(request);
    };
    if let Some(members) = request.members {
        ensure!(
            members == layout.members.len(),
            "this data directory holds a federation of {} members, not {members}; leave out \
             --members to resume it, or use another --data-dir",
            layout.members.len()
        );
    }
    if let Some(nodes) = request.member_nodes {
        let differing: Vec<&str> = layout
            .members
            .iter()
            .filter(|m| m.nodes != nodes)
            .map(|m| m.name.as_str())
            .collect();
        ensure!(
            differing.is_empty(),
            "in this data directory {} have another node count than {nodes}; leave out \
             --member-nodes to resume it, or use another --data-dir",
            differing.join(", ")
        );
    }
    if let Some(push) = &request.push_members {
        let asked: BTreeSet<&str> = push.iter().map(String::as_str).collect();
        let stored: BTreeSet<&str> = layout
            .members
            .iter()
            .filter(|m| m.mode == Mode::Push)
            .map(|m| m.name.as_str())
            .collect();
        ensure!(
            asked == stored,
            "in this data directory the Push members are [{}], not [{}]; leave out \
             --push-members to resume it, or use another --data-dir",
            stored.into_iter().collect::<Vec<_>>().join(", "),
            asked.into_iter().collect::<Vec<_>>().join(", ")
        );
    }
    if let Some(endpoints) = &request.etcd_endpoints {
        ensure!(
            *endpoints == layout.etcd_endpoints,
            "this data directory's federation is stored in {}; leave out --etcd-endpoints to \
             resume it, or use another --data-dir",
            describe_store(&layout.etcd_endpoints)
        );
    }
    if let Some(port) = request.port {
        layout.apiserver_port = port;
    }
    if let Some(port) = request.dns_port {
        layout.dns_port = port;
    }
    Ok(layout)
}

fn fresh(request: &Request) -> anyhow::Result<Layout> {
    let count = request.members.unwrap_or(3);
    ensure!(count <= 100, "--members {count} is more than 100");
    let nodes = request.member_nodes;
    if let Some(n) = nodes {
        ensure!(n >= 1, "--member-nodes must be at least 1");
    }
    let members: Vec<Member> = (0..count)
        .map(|i| {
            let (region, zone, provider) = TOPOLOGY[i % TOPOLOGY.len()];
            Member {
                name: format!("member{}", i + 1),
                region: region.into(),
                zone: zone.into(),
                provider: provider.into(),
                nodes: nodes.unwrap_or(NODES[i % NODES.len()]),
                node_cpu: NODE_CPU.into(),
                node_memory: NODE_MEMORY.into(),
                mode: Mode::Pull,
                port: 0,
            }
        })
        .collect();
    let mut layout = Layout {
        apiserver_port: request.port.unwrap_or(0),
        dns_port: request.dns_port.unwrap_or(0),
        etcd_endpoints: request.etcd_endpoints.clone().unwrap_or_default(),
        members,
    };
    for name in request.push_members.iter().flatten() {
        let Some(member) = layout.members.iter_mut().find(|m| &m.name == name) else {
            bail!(
                "--push-members names {name:?}, but the members are {}",
                describe_members(count)
            );
        };
        member.mode = Mode::Push;
    }
    Ok(layout)
}

/// Address ranges of the member at `index` (0-based), disjoint from every other member's, so
/// endpoints reported from different members never collide.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Networks {
    pub pods: String,
    pub services: String,
    pub load_balancers: String,
}

pub fn networks(index: usize) -> Networks {
    // Up to 100 members: services in 10.1-10.100, pods in 10.101-10.200.
    let n = index + 1;
    Networks {
        pods: format!("10.{}.0.0/16", 100 + n),
        services: format!("10.{n}.0.0/16"),
        load_balancers: format!("172.30.{n}.0/24"),
    }
}

fn describe_members(count: usize) -> String {
    match count {
        0 => "none (--members 0)".into(),
        1 => "member1".into(),
        n => format!("member1..member{n}"),
    }
}

fn describe_store(etcd_endpoints: &[String]) -> String {
    if etcd_endpoints.is_empty() {
        "the embedded store".into()
    } else {
        format!("etcd at {}", etcd_endpoints.join(","))
    }
}

/// The layout kept in `dir`, if a federation was started there before.
pub fn load(dir: &Path) -> anyhow::Result<Option<Layout>> {
    let path = dir.join(LAYOUT_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let layout = serde_json::from_str(&text).with_context(|| {
        format!(
            "{} is not a layout karmada up wrote; move it away to start a new federation here",
            path.display()
        )
    })?;
    Ok(Some(layout))
}

/// Writes `contents` to `path` atomically (write, then rename).
pub fn write_atomically(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, contents).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))
}

/// Keeps `layout` in `dir` for the next start.
pub fn save(dir: &Path, layout: &Layout) -> anyhow::Result<()> {
    let json = serde_json::to_vec_pretty(layout).expect("a layout serializes");
    write_atomically(&dir.join(LAYOUT_FILE), &json)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names_and_modes(layout: &Layout) -> Vec<(String, Mode)> {
        layout
            .members
            .iter()
            .map(|m| (m.name.clone(), m.mode))
            .collect()
    }

    #[test]
    fn defaults_are_three_pull_members_in_different_regions_and_sizes() {
        let layout = plan(&Request::default(), None).unwrap();
        assert_eq!(layout.apiserver_port, 0);
        assert!(layout.etcd_endpoints.is_empty());
        let shape: Vec<(&str, &str, usize, Mode)> = layout
            .members
            .iter()
            .map(|m| (m.name.as_str(), m.region.as_str(), m.nodes, m.mode))
            .collect();
        assert_eq!(
            shape,
            [
                ("member1", "us-east", 3, Mode::Pull),
                ("member2", "us-west", 2, Mode::Pull),
                ("member3", "eu-central", 1, Mode::Pull),
            ]
        );
    }

    #[test]
    fn flags_shape_a_new_federation() {
        let request = Request {
            members: Some(8),
            member_nodes: Some(4),
            push_members: Some(vec!["member2".into(), "member8".into()]),
            port: Some(6443),
            dns_port: Some(5353),
            etcd_endpoints: Some(vec!["http://127.0.0.1:2379".into()]),
        };
        let layout = plan(&request, None).unwrap();
        assert_eq!(layout.apiserver_port, 6443);
        assert_eq!(layout.dns_port, 5353);
        assert_eq!(layout.members.len(), 8);
        assert!(layout.members.iter().all(|m| m.nodes == 4));
        // Topologies cycle past the table's end.
        assert_eq!(layout.members[6].region, "us-east");
        let push: Vec<&str> = layout
            .members
            .iter()
            .filter(|m| m.mode == Mode::Push)
            .map(|m| m.name.as_str())
            .collect();
        assert_eq!(push, ["member2", "member8"]);
        assert_eq!(
            plan(
                &Request {
                    members: Some(0),
                    ..Request::default()
                },
                None
            )
            .unwrap()
            .members
            .len(),
            0
        );
    }

    #[test]
    fn members_get_disjoint_networks() {
        let first = networks(0);
        assert_eq!(first.pods, "10.101.0.0/16");
        assert_eq!(first.services, "10.1.0.0/16");
        assert_eq!(first.load_balancers, "172.30.1.0/24");
        let last = networks(99);
        assert_eq!(last.pods, "10.200.0.0/16");
        assert_eq!(last.services, "10.100.0.0/16");
    }

    #[test]
    fn bad_flags_say_what_to_fix() {
        let unknown = Request {
            push_members: Some(vec!["member4".into()]),
            ..Request::default()
        };
        let err = plan(&unknown, None).unwrap_err().to_string();
        assert!(
            err.contains("\"member4\"") && err.contains("member1..member3"),
            "{err}"
        );
        let zero_nodes = Request {
            member_nodes: Some(0),
            ..Request::default()
        };
        assert!(plan(&zero_nodes, None).is_err());
        let too_many = Request {
            members: Some(101),
            ..Request::default()
        };
        assert!(plan(&too_many, None).is_err());
    }

    #[test]
    fn a_restart_resumes_the_stored_layout() {
        let mut stored = plan(&Request::default(), None).unwrap();
        stored.apiserver_port = 40001;
        stored.members[2].mode = Mode::Push;
        stored.members[0].port = 40002;
        let resumed = plan(&Request::default(), Some(stored.clone())).unwrap();
        assert_eq!(resumed, stored);
        // Repeating the original flags is fine; a new federation port is taken.
        let same = Request {
            members: Some(3),
            push_members: Some(vec!["member3".into()]),
            port: Some(40010),
            etcd_endpoints: Some(vec![]),
            ..Request::default()
        };
        let resumed = plan(&same, Some(stored.clone())).unwrap();
        assert_eq!(resumed.apiserver_port, 40010);
        assert_eq!(names_and_modes(&resumed), names_and_modes(&stored));
        // The DNS keeps its port unless asked for another.
        assert_eq!(resumed.dns_port, stored.dns_port);
        let moved = Request {
            dns_port: Some(40053),
            ..Request::default()
        };
        assert_eq!(plan(&moved, Some(stored.clone())).unwrap().dns_port, 40053);
    }

    #[test]
    fn a_restart_refuses_flags_that_contradict_the_data() {
        let stored = plan(&Request::default(), None).unwrap();
        let cases = [
            Request {
                members: Some(5),
                ..Request::default()
            },
            Request {
                member_nodes: Some(2),
                ..Request::default()
            },
            Request {
                push_members: Some(vec!["member1".into()]),
                ..Request::default()
            },
            Request {
                etcd_endpoints: Some(vec!["http://127.0.0.1:2379".into()]),
                ..Request::default()
            },
        ];
        for request in cases {
            let err = plan(&request, Some(stored.clone()))
                .unwrap_err()
                .to_string();
            assert!(err.contains("another --data-dir"), "{request:?}: {err}");
        }
    }

    #[test]
    fn the_layout_round_trips_through_its_file() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(load(dir.path()).unwrap(), None);
        let layout = plan(&Request::default(), None).unwrap();
        save(dir.path(), &layout).unwrap();
        assert_eq!(load(dir.path()).unwrap(), Some(layout));
        std::fs::write(dir.path().join(LAYOUT_FILE), "not json").unwrap();
        let err = format!("{:#}", load(dir.path()).unwrap_err());
        assert!(err.contains("move it away"), "{err}");
    }
}
