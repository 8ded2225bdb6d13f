//! Runs the fake Kubernetes API by hand, for trying rsp-images or `kubectl` against it.
//!
//! `cargo run -p rsp-testkit --example fake_kube -- [NODES]` starts a cluster with NODES
//! Ready nodes (default 3) labelled `pool=lab`, writes a kubeconfig next to the temporary
//! directory, prints how to use it, and serves until Ctrl-C.

use std::time::Duration;

use rsp_testkit::kube::{node, FakeCluster, PullBehaviour};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let count: usize = match std::env::args().nth(1) {
        None => 3,
        Some(arg) => match arg.parse() {
            Ok(n) => n,
            Err(_) => {
                eprintln!("usage: fake_kube [NODES]  (NODES must be a number, got {arg:?})");
                std::process::exit(2);
            }
        },
    };
    let cluster = FakeCluster::start().await;
    for i in 1..=count {
        cluster.add_node(node(&format!("node{i}")).label("pool", "lab"));
    }
    cluster.set_pull("", PullBehaviour::Succeed(Duration::from_secs(2)));

    let kubeconfig = std::env::temp_dir().join("rsp-fake-kubeconfig.yaml");
    let text = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: {url}\n\
         users:\n- name: fake\n  user: {{}}\ncontexts:\n- name: fake\n  context:\n    cluster: fake\n    \
         user: fake\n    namespace: default\ncurrent-context: fake\n",
        url = cluster.url()
    );
    std::fs::write(&kubeconfig, text)?;
    println!("fake cluster at {} with {count} nodes", cluster.url());
    println!("export KUBECONFIG={}", kubeconfig.display());
    println!("pulls take 2 s; Ctrl-C stops");

    tokio::signal::ctrl_c().await?;
    let stats = cluster.stats();
    println!(
        "pods created {}, deleted {}, peak {}",
        stats.pods_created, stats.pods_deleted, stats.peak_pods
    );
    Ok(())
}
