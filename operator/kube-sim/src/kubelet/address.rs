//! Pod addresses: every Pod gets its own loopback address as `status.podIP`,
//! so each one listens on the ports it would use in Kubernetes.
//!
//! The address is a pure function of the Pod's namespace and name and of
//! the addresses already in use: FNV-1a of `namespace/name` picks a slot in
//! `127.1.0.1 ..= 127.254.255.254` (last octet never 0 or 255, and
//! `127.0.0.0/16`, where other tools bind, is left alone), and a slot in use
//! moves on to the next one. So a Pod recreated under the same name gets the
//! same address again, and a test can compute the address of a Pod before it
//! exists with [`pod_address`] and an empty `in_use`.

use std::net::Ipv4Addr;

/// Second octets 1..=254, third 0..=255, fourth 1..=254.
const SECOND_OCTETS: u64 = 254;
const THIRD_OCTETS: u64 = 256;
const FOURTH_OCTETS: u64 = 254;
const SLOTS: u64 = SECOND_OCTETS * THIRD_OCTETS * FOURTH_OCTETS;

/// The address for Pod `namespace/name`, given which addresses other live
/// Pods hold.
pub fn pod_address(namespace: &str, name: &str, in_use: impl Fn(Ipv4Addr) -> bool) -> Ipv4Addr {
    let start = fnv1a64(format!("{namespace}/{name}").as_bytes()) % SLOTS;
    for step in 0..SLOTS {
        let address = slot_address((start + step) % SLOTS);
        if !in_use(address) {
            return address;
        }
    }
    panic!("all {SLOTS} loopback pod addresses are in use");
}

fn slot_address(slot: u64) -> Ipv4Addr {
    let fourth = slot % FOURTH_OCTETS + 1;
    let third = (slot / FOURTH_OCTETS) % THIRD_OCTETS;
    let second = slot / (FOURTH_OCTETS * THIRD_OCTETS) + 1;
    let octet = |value: u64| u8::try_from(value).expect("each octet is bounded by its slot count");
    Ipv4Addr::new(127, octet(second), octet(third), octet(fourth))
}

/// FNV-1a, 64 bits: stable across releases and platforms (unlike std's
/// `DefaultHasher`), which a deterministic address needs.
pub(crate) fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn the_same_pod_always_gets_the_same_address() {
        let first = pod_address("default", "broker-0", |_| false);
        assert_eq!(first, pod_address("default", "broker-0", |_| false));
        assert_ne!(first, pod_address("default", "broker-1", |_| false));
        assert_ne!(first, pod_address("other", "broker-0", |_| false));
    }

    #[test]
    fn an_address_in_use_moves_the_pod_to_the_next_free_one() {
        let taken = pod_address("default", "broker-0", |_| false);
        let moved = pod_address("default", "broker-0", |address| address == taken);
        assert_ne!(moved, taken);
    }

    #[test]
    fn addresses_stay_in_loopback_outside_127_0_and_never_end_in_0_or_255() {
        for slot in [0, 1, 253, 254, SLOTS / 2, SLOTS - 1] {
            let address = slot_address(slot);
            let [first, second, _, fourth] = address.octets();
            assert_eq!(first, 127);
            assert!((1..=254).contains(&second), "{address}");
            assert!((1..=254).contains(&fourth), "{address}");
        }
        assert_eq!(slot_address(0), Ipv4Addr::new(127, 1, 0, 1));
        assert_eq!(slot_address(SLOTS - 1), Ipv4Addr::new(127, 254, 255, 254));
    }

    #[test]
    fn a_thousand_pods_allocated_in_turn_never_share_an_address() {
        let mut used = BTreeSet::new();
        for index in 0..1000 {
            let address = pod_address("ns", &format!("pod-{index}"), |a| used.contains(&a));
            assert!(used.insert(address));
        }
    }
}
