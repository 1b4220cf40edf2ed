//! `cargo xtask dev --smoke`: the whole loop once, as a person would check
//! it. Through the REST API: create a 3-broker cluster and a topic; wait
//! until the API reports the cluster ready with three brokers; read its
//! bootstrap address; produce records with `acks=all` through `kcat` and
//! consume them back; delete the cluster and wait until its brokers are gone.

use std::process::Command;
use std::time::Instant;

use anyhow::{Context, bail};
use serde_json::{Value, json};

use super::kube::{NAMESPACE, wait_for};
use super::rest::text;
use super::stack::{CLUSTER_TIMEOUT, Stack};
use crate::{process, step};

const CLUSTER: &str = "smoke";
const TOPIC: &str = "orders";
const RECORDS: usize = 100;

impl Stack {
    /// The console answers, then the loop from a REST call to brokers and back.
    pub(crate) fn smoke_check(&self) -> anyhow::Result<()> {
        let started = Instant::now();
        let page = process::output(
            Command::new("curl").args(["-fsS", &format!("{}/", self.control_plane_url)]),
        )
        .context("the console page did not load")?;
        if !page.contains("<title>Fjord") {
            bail!(
                "the page at / is not the console: {}",
                page.chars().take(200).collect::<String>()
            );
        }
        let api = self.api()?;
        step("smoke: creating a 3-broker cluster and a topic through the REST API");
        let cluster = api.expect(
            "POST",
            "/v1/clusters",
            Some(
                &json!({"environment_id": self.environment_id, "name": CLUSTER,
                         "version": "0.1.0", "broker_count": 3, "storage_gib": 1}),
            ),
            201,
        )?;
        let cluster_id = text(&cluster, "/cluster_id")?;
        api.expect(
            "POST",
            "/v1/topics",
            Some(
                &json!({"cluster_id": cluster_id, "name": TOPIC, "partitions": 3,
                         "replication_factor": 3}),
            ),
            201,
        )?;
        let path = format!("/v1/clusters/{cluster_id}");
        wait_for(
            "the cluster ready with 3 brokers in the API",
            CLUSTER_TIMEOUT,
            || {
                let view = api.expect("GET", &path, None, 200)?;
                let status = &view["status"];
                Ok((status["phase"] == "ready" && status["brokers_ready"] == 3).then_some(()))
            },
        )?;
        let bootstrap = self.bootstrap(&cluster_id)?;
        step(&format!(
            "smoke: cluster ready after {:.0?}, bootstrap {bootstrap}",
            started.elapsed()
        ));
        wait_for_partitions(&bootstrap, TOPIC, 3)?;
        produce_and_consume(&bootstrap)?;
        step("smoke: deleting the cluster");
        api.expect("DELETE", &path, None, 204)?;
        self.wait_for_pods_gone(CLUSTER)?;
        step(&format!(
            "smoke check passed in {:.0?}: console loads; REST cluster ready with 3 brokers; \
             {RECORDS} records produced (acks=all) and consumed back; cluster deleted",
            started.elapsed()
        ));
        Ok(())
    }

    /// Waits until no broker Pod of cluster `name` is left.
    pub(crate) fn wait_for_pods_gone(&self, name: &str) -> anyhow::Result<()> {
        let pods = format!(
            "/api/v1/namespaces/{NAMESPACE}/pods?labelSelector=app.kubernetes.io%2Finstance%3D{name}"
        );
        let kube = self.kube.api();
        wait_for("the cluster's broker Pods gone", CLUSTER_TIMEOUT, || {
            let list = kube.expect("GET", &pods, None, 200)?;
            Ok(list["items"]
                .as_array()
                .is_some_and(Vec::is_empty)
                .then_some(()))
        })
    }

    /// The cluster's bootstrap address: from the API when it reports one,
    /// else from its `StreamCluster`'s status.
    pub(crate) fn bootstrap(&self, cluster_id: &str) -> anyhow::Result<String> {
        let view = self
            .api()?
            .expect("GET", &format!("/v1/clusters/{cluster_id}"), None, 200)?;
        if let Some(address) = view["status"]["bootstrap_address"].as_str() {
            return Ok(address.to_owned());
        }
        let name = text(&view, "/name")?;
        let path = format!("/apis/fjord.dev/v1alpha1/namespaces/{NAMESPACE}/streamclusters/{name}");
        let resource: Value = self.kube.api().expect("GET", &path, None, 200)?;
        text(&resource, "/status/bootstrapAddress")
    }
}

/// Waits until `kcat -L` shows `topic` with `partitions` partitions.
pub(crate) fn wait_for_partitions(
    bootstrap: &str,
    topic: &str,
    partitions: u32,
) -> anyhow::Result<()> {
    let shown = format!("topic \"{topic}\" with {partitions} partitions");
    wait_for(&format!("{shown} on the brokers"), CLUSTER_TIMEOUT, || {
        let listing = process::output(
            Command::new("kcat").args(["-b", bootstrap, "-L", "-t", topic, "-m", "5"]),
        )?;
        Ok(listing.contains(&shown).then_some(()))
    })
}

/// `RECORDS` records with `acks=all` through kcat, then all read back.
fn produce_and_consume(bootstrap: &str) -> anyhow::Result<()> {
    let records: Vec<String> = (0..RECORDS).map(|i| format!("smoke-{i}")).collect();
    let mut producer = Command::new("kcat")
        .args(["-b", bootstrap, "-P", "-t", TOPIC, "-X", "acks=all"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .context("cannot start kcat -P")?;
    {
        use std::io::Write as _;
        let mut stdin = producer.stdin.take().context("kcat has no stdin")?;
        stdin.write_all(format!("{}\n", records.join("\n")).as_bytes())?;
    }
    let status = producer.wait()?;
    if !status.success() {
        bail!("kcat -P failed with {status}");
    }
    let count = RECORDS.to_string();
    let consumed = process::output(Command::new("timeout").args([
        "60",
        "kcat",
        "-b",
        bootstrap,
        "-C",
        "-t",
        TOPIC,
        "-o",
        "beginning",
        "-e",
        "-q",
        "-c",
        &count,
        "-f",
        "%s\n",
    ]))
    .context("kcat -C did not read the records back")?;
    let mut got: Vec<&str> = consumed.lines().collect();
    got.sort_unstable();
    let mut want: Vec<&str> = records.iter().map(String::as_str).collect();
    want.sort_unstable();
    if got != want {
        bail!(
            "read back {} records, not the {RECORDS} produced: {:?}",
            got.len(),
            got.iter().take(10).collect::<Vec<_>>()
        );
    }
    step(&format!(
        "smoke: {RECORDS} records produced with acks=all and consumed back"
    ));
    Ok(())
}
