//! The tunnel's configuration file (TOML), with the parameters of
//! `ip xfrm state` and `ip xfrm policy`. `ports/esp/example.toml` is the
//! commented example.

use crate::codec::Transform;
use crate::replay::{DEFAULT_WINDOW, MAX_WINDOW};
use acrypto::DigestKind;
use serde::Deserialize;
use std::net::Ipv4Addr;
use zeroize::Zeroizing;

/// An error in the configuration, with the field it is about.
#[derive(Debug)]
pub struct ConfigError(pub String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

fn err<T>(msg: impl Into<String>) -> Result<T, ConfigError> {
    Err(ConfigError(msg.into()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    name: String,
    devices: Option<String>,
    batch: Option<usize>,
    run_dir: Option<String>,
    tun: RawTun,
    outer: RawOuter,
    #[serde(default)]
    state: Vec<RawState>,
    #[serde(default)]
    policy: Vec<RawPolicy>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTun {
    name: String,
    address: String,
    mtu: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOuter {
    local: Ipv4Addr,
    remote: Ipv4Addr,
    encap: Option<String>,
    sport: Option<u16>,
    dport: Option<u16>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Num {
    Int(u64),
    Str(String),
}

impl Num {
    fn get(&self, what: &str) -> Result<u64, ConfigError> {
        match self {
            Num::Int(n) => Ok(*n),
            Num::Str(s) => {
                let r = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
                    Some(h) => u64::from_str_radix(h, 16),
                    None => s.parse(),
                };
                r.map_err(|_| ConfigError(format!("{what}: '{s}' is not a number")))
            }
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAlg {
    alg: String,
    key: String,
    bits: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawState {
    src: Ipv4Addr,
    dst: Ipv4Addr,
    spi: Num,
    proto: Option<String>,
    mode: Option<String>,
    enc: Option<RawAlg>,
    auth_trunc: Option<RawAlg>,
    aead: Option<RawAlg>,
    replay_window: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTmpl {
    src: Option<Ipv4Addr>,
    dst: Option<Ipv4Addr>,
    spi: Num,
    proto: Option<String>,
    mode: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    src: String,
    dst: String,
    dir: String,
    tmpl: RawTmpl,
}

/// An IPv4 prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Net {
    /// The network address.
    pub addr: Ipv4Addr,
    /// Prefix length, 0 to 32.
    pub len: u8,
}

impl Net {
    /// Parses `A.B.C.D/N` (or an address alone, /32).
    pub fn parse(s: &str) -> Result<Net, ConfigError> {
        let (a, l) = s.split_once('/').unwrap_or((s, "32"));
        let addr: Ipv4Addr = a.parse().map_err(|_| ConfigError(format!("'{s}': not an IPv4 address")))?;
        let len: u8 = l.parse().ok().filter(|&n| n <= 32).ok_or_else(|| ConfigError(format!("'{s}': bad prefix")))?;
        Ok(Net { addr, len })
    }
    fn mask(&self) -> u32 {
        if self.len == 0 {
            0
        } else {
            u32::MAX << (32 - u32::from(self.len))
        }
    }
    /// Whether `a` is inside the prefix.
    pub fn contains(&self, a: Ipv4Addr) -> bool {
        (u32::from(a) ^ u32::from(self.addr)) & self.mask() == 0
    }
}

/// How ESP travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encap {
    /// ESP in UDP (RFC 3948), the default.
    Udp {
        /// Local port (4500).
        sport: u16,
        /// Peer's port (4500).
        dport: u16,
    },
    /// Raw ESP, IP protocol 50 (needs CAP_NET_RAW).
    Raw,
}

/// One SA (`ip xfrm state`).
#[derive(Debug, Clone)]
pub struct SaConfig {
    /// Outer source.
    pub src: Ipv4Addr,
    /// Outer destination.
    pub dst: Ipv4Addr,
    /// SPI.
    pub spi: u32,
    /// The crypto.
    pub transform: Transform,
    /// Anti-replay window (inbound SAs).
    pub replay_window: u32,
}

/// Direction of a policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    /// Packets from the TUN device to the peer.
    Out,
    /// Packets from the peer to the TUN device.
    In,
}

/// One policy (`ip xfrm policy`): inner selectors and the SA.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Inner source selector.
    pub src: Net,
    /// Inner destination selector.
    pub dst: Net,
    /// Direction.
    pub dir: Dir,
    /// The SA (its SPI).
    pub spi: u32,
}

/// A checked configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The tunnel's name (`acrypto esp down NAME`).
    pub name: String,
    /// Engine devices (`soft:2`); `None`: the default engine.
    pub devices: Option<String>,
    /// Most packets per batch (1 to 64).
    pub batch: usize,
    /// Where the pid and status files live.
    pub run_dir: String,
    /// TUN device name.
    pub tun_name: String,
    /// TUN address and prefix.
    pub tun_addr: Net,
    /// TUN MTU.
    pub mtu: u32,
    /// Outer local address.
    pub local: Ipv4Addr,
    /// Outer remote address.
    pub remote: Ipv4Addr,
    /// Transport.
    pub encap: Encap,
    /// Outbound SAs (src = local).
    pub outbound: Vec<SaConfig>,
    /// Inbound SAs (dst = local).
    pub inbound: Vec<SaConfig>,
    /// Policies.
    pub policies: Vec<Policy>,
}

/// Most packets one batch takes.
pub const MAX_BATCH: usize = 64;

fn key_bytes(what: &str, s: &str) -> Result<Zeroizing<Vec<u8>>, ConfigError> {
    let h = s.strip_prefix("0x").unwrap_or(s);
    hex::decode(h).map(Zeroizing::new).map_err(|_| ConfigError(format!("{what}: the key is not hex")))
}

fn transform(st: &RawState, at: &str) -> Result<Transform, ConfigError> {
    match (&st.enc, &st.auth_trunc, &st.aead) {
        (Some(enc), Some(auth), None) => {
            if enc.alg != "cbc(aes)" {
                return err(format!("{at}: enc '{}' (only cbc(aes))", enc.alg));
            }
            let enc_key = key_bytes(&format!("{at} enc"), &enc.key)?;
            if ![16, 24, 32].contains(&enc_key.len()) {
                return err(format!("{at}: cbc(aes) takes a 128, 192 or 256-bit key"));
            }
            let (digest, icv_bits) = match auth.alg.as_str() {
                "hmac(sha1)" => (DigestKind::Sha1, 96),
                "hmac(sha256)" => (DigestKind::Sha256, 128),
                a => return err(format!("{at}: auth-trunc '{a}' (hmac(sha1) or hmac(sha256))")),
            };
            if auth.bits.is_some_and(|b| b != icv_bits) {
                return err(format!("{at}: {} is truncated to {icv_bits} bits (RFC 2404 / 4868)", auth.alg));
            }
            let auth_key = key_bytes(&format!("{at} auth-trunc"), &auth.key)?;
            if auth_key.is_empty() {
                return err(format!("{at}: empty auth-trunc key"));
            }
            Ok(Transform::CbcHmac { enc_key, digest, auth_key, icv_len: icv_bits as usize / 8 })
        }
        (None, None, Some(a)) => {
            if a.alg != "rfc4106(gcm(aes))" {
                return err(format!("{at}: aead '{}' (only rfc4106(gcm(aes)))", a.alg));
            }
            let mut k = key_bytes(&format!("{at} aead"), &a.key)?;
            if ![20, 28, 36].contains(&k.len()) {
                return err(format!("{at}: rfc4106(gcm(aes)) takes key ‖ 4-byte salt (160, 224 or 288 bits)"));
            }
            let mut salt = [0u8; 4];
            salt.copy_from_slice(&k[k.len() - 4..]);
            let n = k.len() - 4;
            k.truncate(n);
            let bits = a.bits.unwrap_or(128);
            if bits != 128 && bits != 96 {
                return err(format!("{at}: rfc4106(gcm(aes)) ICV of 96 or 128 bits"));
            }
            Ok(Transform::Gcm { key: k, salt, icv_len: bits as usize / 8 })
        }
        _ => err(format!("{at}: give enc + auth-trunc, or aead")),
    }
}

impl Config {
    /// Parses and checks a configuration.
    ///
    /// # Errors
    /// The first problem found, naming the field.
    pub fn parse(text: &str) -> Result<Config, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| ConfigError(e.to_string()))?;
        if raw.name.is_empty() || !raw.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            return err("name: letters, digits, '-' and '_' only");
        }
        let batch = raw.batch.unwrap_or(MAX_BATCH);
        if !(1..=MAX_BATCH).contains(&batch) {
            return err(format!("batch: 1 to {MAX_BATCH}"));
        }
        if raw.tun.name.is_empty() || raw.tun.name.len() > 15 {
            return err("tun.name: 1 to 15 characters");
        }
        let tun_addr = Net::parse(&raw.tun.address)?;
        let mtu = raw.tun.mtu.unwrap_or(1400);
        if !(576..=9000).contains(&mtu) {
            return err("tun.mtu: 576 to 9000");
        }
        let encap = match raw.outer.encap.as_deref().unwrap_or("espinudp") {
            "espinudp" | "udp" => {
                Encap::Udp { sport: raw.outer.sport.unwrap_or(4500), dport: raw.outer.dport.unwrap_or(4500) }
            }
            "esp" | "none" => Encap::Raw,
            e => return err(format!("outer.encap: '{e}' (espinudp or esp)")),
        };
        let (local, remote) = (raw.outer.local, raw.outer.remote);
        let mut outbound = Vec::new();
        let mut inbound = Vec::new();
        for (i, st) in raw.state.iter().enumerate() {
            let at = format!("state {}", i + 1);
            if st.proto.as_deref().is_some_and(|p| p != "esp") || st.mode.as_deref().is_some_and(|m| m != "tunnel") {
                return err(format!("{at}: only proto esp, mode tunnel"));
            }
            let spi = st.spi.get(&format!("{at} spi"))?;
            let spi = u32::try_from(spi).ok().filter(|&s| s >= 256).ok_or_else(|| {
                ConfigError(format!("{at}: spi 0x{spi:x} (256 to 2^32-1; 1-255 are reserved, RFC 4303 §2.1)"))
            })?;
            let replay_window = st.replay_window.unwrap_or(DEFAULT_WINDOW);
            if replay_window > MAX_WINDOW {
                return err(format!("{at}: replay-window at most {MAX_WINDOW}"));
            }
            let sa = SaConfig { src: st.src, dst: st.dst, spi, transform: transform(st, &at)?, replay_window };
            if st.src == local && st.dst == remote {
                outbound.push(sa);
            } else if st.src == remote && st.dst == local {
                if inbound.iter().any(|s: &SaConfig| s.spi == spi) {
                    return err(format!("{at}: two inbound SAs with spi 0x{spi:x}"));
                }
                inbound.push(sa);
            } else {
                return err(format!("{at}: src/dst must be outer.local/outer.remote (or the reverse)"));
            }
        }
        let mut policies = Vec::new();
        for (i, p) in raw.policy.iter().enumerate() {
            let at = format!("policy {}", i + 1);
            let dir = match p.dir.as_str() {
                "out" => Dir::Out,
                "in" | "fwd" => Dir::In,
                d => return err(format!("{at}: dir '{d}' (out, in or fwd)")),
            };
            if p.tmpl.proto.as_deref().is_some_and(|x| x != "esp")
                || p.tmpl.mode.as_deref().is_some_and(|m| m != "tunnel")
            {
                return err(format!("{at}: tmpl proto esp mode tunnel only"));
            }
            let spi = p.tmpl.spi.get(&format!("{at} tmpl spi"))? as u32;
            let list = if dir == Dir::Out { &outbound } else { &inbound };
            let Some(sa) = list.iter().find(|s| s.spi == spi) else {
                return err(format!(
                    "{at}: no {} state with spi 0x{spi:x}",
                    if dir == Dir::Out { "outbound" } else { "inbound" }
                ));
            };
            if p.tmpl.src.is_some_and(|a| a != sa.src) || p.tmpl.dst.is_some_and(|a| a != sa.dst) {
                return err(format!("{at}: tmpl src/dst differ from the state's"));
            }
            policies.push(Policy { src: Net::parse(&p.src)?, dst: Net::parse(&p.dst)?, dir, spi });
        }
        if !policies.iter().any(|p| p.dir == Dir::Out) {
            return err("no outbound policy: nothing would be sent");
        }
        for sa in &inbound {
            if !policies.iter().any(|p| p.dir == Dir::In && p.spi == sa.spi) {
                return err(format!(
                    "inbound state spi 0x{:x} has no in policy (its packets would all be dropped)",
                    sa.spi
                ));
            }
        }
        Ok(Config {
            name: raw.name,
            devices: raw.devices,
            batch,
            run_dir: raw.run_dir.unwrap_or_else(|| "/run/acrypto-esp".into()),
            tun_name: raw.tun.name,
            tun_addr,
            mtu,
            local,
            remote,
            encap,
            outbound,
            inbound,
            policies,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_parses() {
        let c = Config::parse(include_str!("../example.toml")).unwrap();
        assert_eq!(c.name, "esp0");
        assert_eq!(c.outbound.len(), 1);
        assert_eq!(c.inbound.len(), 1);
        assert_eq!(c.encap, Encap::Udp { sport: 4500, dport: 4500 });
        assert_eq!(c.inbound[0].replay_window, 1024);
        assert!(matches!(c.outbound[0].transform, Transform::CbcHmac { icv_len: 12, .. }));
    }

    #[test]
    fn bad_configs_say_why() {
        let good = include_str!("../example.toml");
        for (from, to, why) in [
            ("spi = \"0x1001\"", "spi = \"0x10\"", "reserved"),
            ("alg = \"hmac(sha1)\"", "alg = \"hmac(md5)\"", "auth-trunc"),
            ("bits = 96", "bits = 128", "truncated to 96"),
            ("dir = \"out\"", "dir = \"sideways\"", "dir"),
            ("name = \"esp0\"", "name = \"a b\"", "name"),
            ("batch = 64", "batch = 65", "batch"),
        ] {
            assert!(good.contains(from), "{from}");
            let e = Config::parse(&good.replacen(from, to, 1)).unwrap_err().0;
            assert!(e.contains(why), "{from} -> {to}: {e}");
        }
    }

    #[test]
    fn prefixes() {
        let n = Net::parse("10.1.2.0/24").unwrap();
        assert!(n.contains("10.1.2.77".parse().unwrap()));
        assert!(!n.contains("10.1.3.1".parse().unwrap()));
        assert!(Net::parse("0.0.0.0/0").unwrap().contains("8.8.8.8".parse().unwrap()));
        assert!(Net::parse("10.0.0.0/33").is_err());
    }
}
