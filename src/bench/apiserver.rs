//! `karmada bench apiserver`: runs an in-process API server per storage backend, drives it
//! through kube-rs, measures raw storage writes as the ceiling, and reports the figures.

use std::fmt;
use std::time::Duration;

use anyhow::{Context as _, ensure};
use k8s_openapi::api::core::v1::ConfigMap;
use karmada_apiserver::server::{self, Backend, Config};
use kube::Api;
use tokio_util::sync::CancellationToken;

use super::machine;
use super::report::{self, BackendNotes, Params, Report, Row};
use super::{ceiling, fanout, workload};
use karmada_apiserver::storage::etcd::process::EtcdProcess;

/// How long a server may take to stop before the benchmark moves on without it.
const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(10);
/// Open files the process needs besides two sockets per watcher.
const SPARE_FILES: u64 = 256;

#[derive(clap::Args)]
pub struct Args {
    /// Which storage backends to measure.
    #[arg(long, value_enum, default_value_t = Which::Both)]
    backend: Which,
    /// ConfigMaps to create, get, update and delete [default: 2000; 50 with --quick].
    #[arg(long)]
    objects: Option<usize>,
    /// Requests in flight at once [default: 16; 4 with --quick].
    #[arg(long)]
    concurrency: Option<usize>,
    /// Watchers for the fan-out phase [default: 1000; 10 with --quick].
    #[arg(long)]
    watchers: Option<usize>,
    /// Objects created while the watchers listen [default: 100; 5 with --quick].
    #[arg(long)]
    events: Option<usize>,
    /// Full lists (and paged lists) of all objects [default: 20; 2 with --quick].
    #[arg(long)]
    list_rounds: Option<usize>,
    /// Bytes of data in each ConfigMap.
    #[arg(long, default_value_t = 1024)]
    payload_bytes: usize,
    #[command(flatten)]
    common: super::Common,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Which {
    Embedded,
    Etcd,
    Both,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Embedded,
    Etcd,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Embedded => "embedded",
            Kind::Etcd => "etcd",
        })
    }
}

impl Which {
    fn kinds(self) -> &'static [Kind] {
        match self {
            Which::Embedded => &[Kind::Embedded],
            Which::Etcd => &[Kind::Etcd],
            Which::Both => &[Kind::Embedded, Kind::Etcd],
        }
    }
}

impl Args {
    /// The sizes to run with: explicit flags, else the `--quick` or full defaults.
    fn params(&self) -> anyhow::Result<Params> {
        let pick = |explicit, full, quick| self.common.pick(explicit, full, quick);
        let params = Params {
            objects: pick(self.objects, 2000, 50),
            concurrency: pick(self.concurrency, 16, 4),
            watchers: pick(self.watchers, 1000, 10),
            events: pick(self.events, 100, 5),
            list_rounds: pick(self.list_rounds, 20, 2),
            payload_bytes: self.payload_bytes,
        };
        for (flag, value) in [
            ("--objects", params.objects),
            ("--concurrency", params.concurrency),
            ("--watchers", params.watchers),
            ("--events", params.events),
            ("--list-rounds", params.list_rounds),
        ] {
            ensure!(value >= 1, "{flag} must be at least 1");
        }
        Ok(params)
    }
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let params = args.params()?;
    check_open_files(params.watchers)?;
    let machine = super::start(&params);
    // On Ctrl-C, dropping the benchmark kills the private etcd.
    let (results, backends) =
        super::interruptible(Box::pin(bench_all(args.backend, &params))).await?;
    let table = report::table(&results);
    let report = Report {
        benchmark: "apiserver",
        machine,
        params,
        results,
        backends,
    };
    super::publish(&table, &report, args.common.out.as_deref())
}

async fn bench_all(which: Which, params: &Params) -> anyhow::Result<(Vec<Row>, Vec<BackendNotes>)> {
    let mut results = Vec::new();
    let mut backends = Vec::new();
    for &kind in which.kinds() {
        let (rows, notes) = bench(kind, params)
            .await
            .with_context(|| format!("the {kind} benchmark failed"))?;
        results.extend(rows);
        backends.push(notes);
    }
    Ok((results, backends))
}

/// Fails early, with the fix, when the open-file limit cannot hold every watcher.
fn check_open_files(watchers: usize) -> anyhow::Result<()> {
    let needed = 2 * watchers as u64 + SPARE_FILES;
    if let Some(limit) = machine::open_files_limit() {
        ensure!(
            limit >= needed,
            "{watchers} watchers need about {needed} open files but the limit is {limit}; \
             raise it with `ulimit -n {needed}` or pass fewer --watchers"
        );
    }
    Ok(())
}

/// The whole benchmark on one backend: a fresh server, the workload, then the raw ceiling.
async fn bench(kind: Kind, params: &Params) -> anyhow::Result<(Vec<Row>, BackendNotes)> {
    let backend = kind.to_string();
    let data = tempfile::tempdir().context("cannot create a data directory")?;
    let etcd = match kind {
        Kind::Etcd => Some(EtcdProcess::start_temporary().await?),
        Kind::Embedded => None,
    };
    let storage = match &etcd {
        Some(etcd) => Backend::Etcd {
            endpoints: vec![etcd.endpoint().to_owned()],
            prefix: "/karmada".into(),
        },
        None => Backend::Embedded(data.path().join("apiserver")),
    };
    let config = Config::new(([127, 0, 0, 1], 0).into(), storage);
    let running = server::start(config, CancellationToken::new())
        .await
        .context("cannot start the API server")?;
    let url = running.url();
    eprintln!("bench: {backend}: API server on {url}");
    let client = kube::Client::try_from(kube::Config::new(
        url.parse().context("the server URL is not a URI")?,
    ))
    .context("cannot build a kube client")?;
    let api: Api<ConfigMap> = Api::namespaced(client, workload::NAMESPACE);

    let crud = workload::crud(&api, params, &backend).await?;
    let watch = fanout::run(&api, params, &backend).await?;
    let process_rss_bytes = machine::rss_bytes(std::process::id());
    let etcd_rss_bytes = etcd.as_ref().and_then(|e| machine::rss_bytes(e.pid()));
    drop(api);
    if tokio::time::timeout(SHUTDOWN_DEADLINE, running.shutdown())
        .await
        .is_err()
    {
        eprintln!(
            "bench: {backend}: the API server did not stop within {SHUTDOWN_DEADLINE:?}; going on"
        );
    }

    // The ceiling runs with the API server stopped, so it has the machine to itself.
    let raw = match &etcd {
        Some(etcd) => ceiling::etcd_puts(etcd.endpoint(), params, crud.value_bytes).await?,
        None => {
            ceiling::embedded_creates(&data.path().join("ceiling"), params, crud.value_bytes)
                .await?
        }
    };

    let mut rows: Vec<Row> = crud
        .phases
        .iter()
        .map(|(op, m)| Row::new(&backend, op, m))
        .collect();
    rows.push(Row::new(&backend, "watch-open", &watch.open));
    rows.push(Row::new(&backend, "watch-event", &watch.events));
    rows.push(Row::new(&backend, "raw-put", &raw));
    let notes = BackendNotes {
        backend,
        value_bytes: crud.value_bytes,
        watch_events_expected: watch.expected,
        watch_events_delivered: watch.delivered,
        process_rss_bytes,
        etcd_rss_bytes,
    };
    Ok((rows, notes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(argv: &[&str]) -> anyhow::Result<Params> {
        super::super::parse::<Args>(argv)?.params()
    }

    #[test]
    fn sizes_come_from_flags_then_quick_then_full_defaults() {
        let full = Params {
            objects: 2000,
            concurrency: 16,
            watchers: 1000,
            events: 100,
            list_rounds: 20,
            payload_bytes: 1024,
        };
        let quick = Params {
            objects: 50,
            concurrency: 4,
            watchers: 10,
            events: 5,
            list_rounds: 2,
            payload_bytes: 1024,
        };
        let cases: &[(&[&str], Params)] = &[
            (&[], full),
            (&["--quick"], quick),
            (
                &["--quick", "--objects", "7"],
                Params {
                    objects: 7,
                    ..quick
                },
            ),
            (
                &["--watchers", "3", "--payload-bytes", "10"],
                Params {
                    watchers: 3,
                    payload_bytes: 10,
                    ..full
                },
            ),
        ];
        for (argv, want) in cases {
            assert_eq!(params(argv).unwrap(), *want, "{argv:?}");
        }
    }

    #[test]
    fn zero_sizes_are_refused_naming_the_flag() {
        for flag in [
            "--objects",
            "--concurrency",
            "--watchers",
            "--events",
            "--list-rounds",
        ] {
            let error = params(&[flag, "0"]).unwrap_err().to_string();
            assert!(error.contains(flag), "{flag}: {error}");
        }
    }

    #[test]
    fn both_backends_run_embedded_first() {
        assert_eq!(Which::Both.kinds(), [Kind::Embedded, Kind::Etcd]);
        assert_eq!(Which::Etcd.kinds(), [Kind::Etcd]);
    }
}
