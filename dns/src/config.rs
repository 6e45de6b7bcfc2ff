//! What `karmada dns` is told at start: its zones, TTL, the client-region prefix map and the
//! address its NS name resolves to.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// The server's settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// The multi-cluster services zone, `clusterset.local` by default.
    pub zone: String,
    /// The zone of global names (`example.global`), when one is served.
    pub global_zone: Option<String>,
    /// TTL of every answer, and the SOA minimum (how long a negative answer is cached).
    pub ttl: u32,
    /// Client address prefixes and the region each lies in, for the nearest-region policy.
    pub regions: Vec<(Prefix, String)>,
    /// What `ns.dns.<zone>` resolves to; it has no address records when unset.
    pub ns_address: Option<IpAddr>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            zone: "clusterset.local".to_owned(),
            global_zone: None,
            ttl: 5,
            regions: Vec::new(),
            ns_address: None,
        }
    }
}

impl Config {
    /// The region of a client address and the length of the prefix that placed it there: the
    /// longest configured prefix holding the address wins (the first listed on a tie).
    pub fn region_of(&self, address: IpAddr) -> Option<(&str, u8)> {
        let address = address.to_canonical();
        let mut best: Option<(&str, u8)> = None;
        for (prefix, region) in &self.regions {
            if prefix.contains(address) && best.is_none_or(|(_, len)| prefix.len() > len) {
                best = Some((region, prefix.len()));
            }
        }
        best
    }
}

/// An address prefix such as `10.1.0.0/16` or `fd00::/8` (host bits are cleared).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Prefix {
    network: IpAddr,
    len: u8,
}

/// Why a prefix could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PrefixError {
    #[error("prefix {0:?} has no length: write it as ADDRESS/LENGTH, e.g. 10.1.0.0/16")]
    MissingLength(String),
    #[error("prefix {0:?} does not start with an IPv4 or IPv6 address")]
    BadAddress(String),
    #[error("prefix {text:?} has length {len:?}, which must be a number from 0 to {max}")]
    BadLength { text: String, len: String, max: u8 },
}

impl Prefix {
    /// The prefix of `len` bits of `address`; `None` when `len` exceeds the address width.
    pub fn new(address: IpAddr, len: u8) -> Option<Prefix> {
        let network = match address {
            IpAddr::V4(v4) if len <= 32 => IpAddr::V4((u32::from(v4) & mask32(len)).into()),
            IpAddr::V6(v6) if len <= 128 => IpAddr::V6((u128::from(v6) & mask128(len)).into()),
            _ => return None,
        };
        Some(Prefix { network, len })
    }

    pub fn network(&self) -> IpAddr {
        self.network
    }

    /// The prefix length in bits.
    pub fn len(&self) -> u8 {
        self.len
    }

    /// Whether this is a /0, holding every address of its family.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether `address` lies in the prefix (an address of the other family never does).
    pub fn contains(&self, address: IpAddr) -> bool {
        match (self.network, address) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => u32::from(ip) & mask32(self.len) == u32::from(net),
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                u128::from(ip) & mask128(self.len) == u128::from(net)
            }
            _ => false,
        }
    }
}

fn mask32(len: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0)
}

fn mask128(len: u8) -> u128 {
    u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0)
}

impl FromStr for Prefix {
    type Err = PrefixError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (address, len) = text
            .trim()
            .split_once('/')
            .ok_or_else(|| PrefixError::MissingLength(text.to_owned()))?;
        let address: IpAddr = address
            .parse()
            .map_err(|_| PrefixError::BadAddress(text.to_owned()))?;
        let max = if address.is_ipv4() { 32 } else { 128 };
        let bad_length = || PrefixError::BadLength {
            text: text.to_owned(),
            len: len.to_owned(),
            max,
        };
        let len: u8 = len.parse().map_err(|_| bad_length())?;
        Prefix::new(address, len).ok_or_else(bad_length)
    }
}

impl fmt::Display for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn prefixes_parse_and_contain() {
        let cases = [
            ("10.1.0.0/16", "10.1.200.3", true),
            ("10.1.0.0/16", "10.2.0.1", false),
            ("10.1.2.3/16", "10.1.9.9", true),
            ("0.0.0.0/0", "192.0.2.1", true),
            ("0.0.0.0/0", "fd00::1", false),
            ("fd00::/8", "fd12::1", true),
            ("fd00::/8", "fe80::1", false),
            ("192.0.2.7/32", "192.0.2.7", true),
            ("192.0.2.7/32", "192.0.2.8", false),
        ];
        for (prefix, address, inside) in cases {
            let parsed: Prefix = prefix.parse().unwrap();
            assert_eq!(parsed.contains(ip(address)), inside, "{prefix} {address}");
        }
        assert_eq!(
            "10.1.2.3/16".parse::<Prefix>().unwrap().to_string(),
            "10.1.0.0/16"
        );
    }

    #[test]
    fn bad_prefixes_say_why() {
        let cases = [
            ("10.1.0.0", "has no length"),
            ("ten/8", "does not start with an IPv4 or IPv6 address"),
            ("10.0.0.0/33", "from 0 to 32"),
            ("fd00::/129", "from 0 to 128"),
            ("10.0.0.0/x", "from 0 to 32"),
        ];
        for (text, message) in cases {
            let error = text.parse::<Prefix>().unwrap_err().to_string();
            assert!(error.contains(message), "{text}: {error}");
        }
    }

    #[test]
    fn the_longest_prefix_names_the_region() {
        let config = Config {
            regions: vec![
                ("10.0.0.0/8".parse().unwrap(), "wide".to_owned()),
                ("10.1.0.0/16".parse().unwrap(), "eu".to_owned()),
                ("fd00::/8".parse().unwrap(), "us".to_owned()),
            ],
            ..Config::default()
        };
        assert_eq!(config.region_of(ip("10.1.2.3")), Some(("eu", 16)));
        assert_eq!(config.region_of(ip("10.2.2.3")), Some(("wide", 8)));
        assert_eq!(config.region_of(ip("::ffff:10.1.0.1")), Some(("eu", 16)));
        assert_eq!(config.region_of(ip("fd00::5")), Some(("us", 8)));
        assert_eq!(config.region_of(ip("192.0.2.1")), None);
    }
}
