//! The operator's `--pod-addresses kube-sim` computes the same loopback Pod
//! addresses as kube-sim's process kubelet (which the operator must not
//! depend on), so broker files name the addresses the Pods will listen on.
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use fjord_kube_sim::kubelet::address::pod_address;
use fjord_operator::cluster::loopback::kube_sim_pod_address;

#[test]
fn the_operator_and_the_kubelet_agree_on_every_pod_address() {
    for namespace in ["fjord-system", "default", "loop-12345-678"] {
        for cluster in ["orders", "payments", "a", "dev-cluster-with-a-long-name"] {
            for ordinal in 1..=9 {
                let pod = format!("{cluster}-{ordinal}");
                assert_eq!(
                    kube_sim_pod_address(namespace, &pod),
                    pod_address(namespace, &pod, |_| false),
                    "{namespace}/{pod}"
                );
            }
        }
    }
}
