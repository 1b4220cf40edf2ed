//! IPv4 CIDR blocks: parsing and carving a VPC into per-zone subnets.

use std::fmt;
use std::net::Ipv4Addr;

use crate::error::{Error, Result};

/// An IPv4 network, `a.b.c.d/prefix`, with no host bits set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Cidr {
    pub network: Ipv4Addr,
    pub prefix: u8,
}

impl Ipv4Cidr {
    pub fn parse(text: &str) -> Result<Self> {
        let invalid = || Error::Invalid(format!("{text:?} is not an IPv4 CIDR block"));
        let (address, prefix) = text.split_once('/').ok_or_else(invalid)?;
        let network: Ipv4Addr = address.parse().map_err(|_| invalid())?;
        let prefix: u8 = prefix.parse().map_err(|_| invalid())?;
        if prefix > 32 {
            return Err(invalid());
        }
        if u32::from(network) & !mask(prefix) != 0 {
            return Err(Error::Invalid(format!(
                "{text:?} has host bits set; the network is {}/{prefix}",
                Ipv4Addr::from(u32::from(network) & mask(prefix))
            )));
        }
        Ok(Self { network, prefix })
    }

    /// The `index`-th subnet `extra_bits` longer than this block.
    pub fn subnet(&self, extra_bits: u8, index: u32) -> Result<Self> {
        let prefix = self.prefix + extra_bits;
        if prefix > 28 || extra_bits > 16 || index >= (1_u32 << extra_bits) {
            return Err(Error::Invalid(format!(
                "{self} has no subnet #{index} of /{prefix}"
            )));
        }
        let offset = index << (32 - u32::from(prefix));
        let subnet = Self {
            network: Ipv4Addr::from(u32::from(self.network) + offset),
            prefix,
        };
        assert!(
            self.contains(&subnet),
            "a carved subnet lies inside its block"
        );
        Ok(subnet)
    }

    /// Whether `other` lies wholly inside this block.
    pub fn contains(&self, other: &Self) -> bool {
        other.prefix >= self.prefix
            && u32::from(other.network) & mask(self.prefix) == u32::from(self.network)
    }
}

fn mask(prefix: u8) -> u32 {
    if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(prefix))
    }
}

impl fmt::Display for Ipv4Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zone_subnets_are_consecutive_blocks_of_the_vpc() {
        let vpc = Ipv4Cidr::parse("10.64.0.0/16").expect("valid");
        let subnets: Vec<String> = (0..3)
            .map(|i| vpc.subnet(4, i).expect("fits").to_string())
            .collect();
        assert_eq!(subnets, ["10.64.0.0/20", "10.64.16.0/20", "10.64.32.0/20"]);
        assert!(vpc.subnet(4, 16).is_err());
    }

    #[test]
    fn bad_blocks_are_refused_with_the_reason() {
        assert!(Ipv4Cidr::parse("10.0.0.0").is_err());
        assert!(Ipv4Cidr::parse("10.0.0.0/33").is_err());
        assert!(Ipv4Cidr::parse("300.0.0.0/16").is_err());
        let error = Ipv4Cidr::parse("10.0.0.1/16").expect_err("host bits");
        assert!(error.to_string().contains("10.0.0.0/16"), "{error}");
    }
}
