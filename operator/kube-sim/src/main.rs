//! `fjord-kube-sim`: serves the in-memory Kubernetes API server over HTTP.

fn main() -> anyhow::Result<()> {
    anyhow::bail!("the API server is not wired up yet (issue 12)")
}
