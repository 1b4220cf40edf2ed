//! The faults a simulation injects during its chaos phase, and how often.

/// How hostile the world is during the chaos phase. Each `*_percent` is the
/// chance, once per simulated second, that the fault happens.
#[derive(Debug, Clone, Copy, Default)]
pub struct Faults {
    pub loss_percent: u64,
    pub duplicate_percent: u64,
    pub crash_percent: u64,
    pub latency_ms_max: u64,
    /// A crash keeps a random whole prefix of the unsynced tail and may tear
    /// the entry after it (recovery drops it); otherwise only the durable log.
    pub torn_writes: bool,
    /// Clocks start at random rates (0.5x-2x) and offsets.
    pub clock_skew: bool,
    /// A node's clock changes rate and may jump forward.
    pub clock_change_percent: u64,
    /// One direction of a link is cut (or every cut heals).
    pub partition_percent: u64,
    /// The leader is asked to hand leadership to a random node.
    pub transfer_percent: u64,
    /// The leader is asked to change membership: add the spare slot when the
    /// group has three voters, else remove a random voter (itself included).
    pub membership_percent: u64,
}
