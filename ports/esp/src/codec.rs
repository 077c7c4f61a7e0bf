//! The ESP codec (RFC 4303, tunnel mode): what goes around the crypto of
//! one packet. Outbound: the trailer (padding 1, 2, 3, …, pad length, next
//! header), the request for the engine, then header ‖ IV ‖ ciphertext ‖ ICV.
//! Inbound: header and length checks, the request (ICV verified before
//! anything is decrypted), then the trailer checks.
//!
//! Two transforms, each one engine session per direction:
//! - `cbc(aes)` with `hmac(sha1)` truncated to 96 bits or `hmac(sha256)` to
//!   128 (RFC 3602, 2404, 4868): a two-step route, AES-CBC encrypt then
//!   HMAC (outbound), HMAC verify then AES-CBC decrypt (inbound). The MAC
//!   covers the request's `aad` (ESP header and IV) and then the ciphertext.
//!   The IV is random (RFC 3602 §2.1).
//! - `rfc4106(gcm(aes))` (RFC 4106): one AEAD step; nonce = salt ‖ explicit
//!   IV, AAD = SPI ‖ sequence number. The explicit IV is the sequence number
//!   masked by a per-SA random value (unique per packet, as the kernel's
//!   seqiv makes it): GCM needs uniqueness, not unpredictability.

use acrypto::{Algorithm, CipherMode, DigestKind, Op, Request, SessionBuilder};
use zeroize::Zeroizing;

/// ESP header: SPI and sequence number.
pub const HEADER_LEN: usize = 8;
/// Next header of an IPv4 packet in tunnel mode.
pub const NEXT_IPV4: u8 = 4;
/// Next header of a dummy packet (RFC 4303 §2.6): dropped silently.
pub const NEXT_NONE: u8 = 59;

/// The crypto of one SA.
#[derive(Clone)]
pub enum Transform {
    /// AES-CBC then HMAC, truncated to `icv_len` bytes.
    CbcHmac {
        /// AES key (16, 24 or 32 bytes).
        enc_key: Zeroizing<Vec<u8>>,
        /// HMAC digest.
        digest: DigestKind,
        /// HMAC key.
        auth_key: Zeroizing<Vec<u8>>,
        /// ICV bytes (12 for sha1-96, 16 for sha256-128).
        icv_len: usize,
    },
    /// AES-GCM as RFC 4106.
    Gcm {
        /// AES key (16, 24 or 32 bytes).
        key: Zeroizing<Vec<u8>>,
        /// The 4-byte salt (the last 4 bytes of the key material).
        salt: [u8; 4],
        /// ICV bytes (16, or 12).
        icv_len: usize,
    },
}

impl std::fmt::Debug for Transform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

/// Why an inbound packet was dropped (each is counted).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drop {
    /// Shorter than header, IV, one block and ICV, or a ciphertext that is
    /// not a whole number of blocks.
    Truncated,
    /// No inbound SA with this SPI.
    UnknownSpi,
    /// Refused by the anti-replay window (before or after verification).
    Replay,
    /// The ICV did not verify.
    AuthFailed,
    /// Pad length beyond the payload or pad bytes that are not 1, 2, 3, ….
    BadPadding,
    /// Next header other than IPv4 (4) or dummy (59).
    BadNextHeader,
    /// A dummy packet (next header 59).
    Dummy,
    /// The inner packet is not a well-formed IPv4 packet of that length.
    BadInner,
    /// The inner addresses are outside the SA's inbound policy.
    Policy,
    /// The engine refused or failed the request for another reason.
    Crypto,
}

impl Transform {
    /// Explicit IV bytes in the packet.
    pub fn iv_len(&self) -> usize {
        match self {
            Transform::CbcHmac { .. } => 16,
            Transform::Gcm { .. } => 8,
        }
    }
    /// ICV bytes in the packet.
    pub fn icv_len(&self) -> usize {
        match self {
            Transform::CbcHmac { icv_len, .. } | Transform::Gcm { icv_len, .. } => *icv_len,
        }
    }
    /// What the payload ‖ padding ‖ pad length ‖ next header is aligned to.
    pub fn align(&self) -> usize {
        match self {
            Transform::CbcHmac { .. } => 16,
            Transform::Gcm { .. } => 4,
        }
    }

    /// Bytes ESP adds to an inner packet of `len` bytes (header, IV,
    /// padding, trailer, ICV).
    pub fn overhead(&self, len: usize) -> usize {
        HEADER_LEN + self.iv_len() + padded_len(len, self.align()) - len + self.icv_len()
    }

    /// The kernel's name of the transform, for status output.
    pub fn describe(&self) -> String {
        match self {
            Transform::CbcHmac { enc_key, digest, icv_len, .. } => format!(
                "cbc(aes)-{} + hmac({})-{}",
                enc_key.len() * 8,
                match digest {
                    DigestKind::Sha1 => "sha1",
                    DigestKind::Sha256 => "sha256",
                },
                icv_len * 8
            ),
            Transform::Gcm { key, icv_len, .. } => format!("rfc4106(gcm(aes))-{} icv {}", key.len() * 8, icv_len * 8),
        }
    }

    fn aes_bits(key: &[u8]) -> u16 {
        (key.len() * 8) as u16
    }

    /// The engine route of one direction.
    pub fn session(&self, outbound: bool) -> SessionBuilder {
        match self {
            Transform::CbcHmac { enc_key, digest, auth_key, .. } => {
                let cbc = Algorithm::Aes { key_bits: Self::aes_bits(enc_key), mode: CipherMode::Cbc };
                let mac = Algorithm::Hmac(*digest);
                if outbound {
                    SessionBuilder::new().step(cbc, Op::Encrypt, enc_key).step(mac, Op::Digest, auth_key)
                } else {
                    SessionBuilder::new().step(mac, Op::Verify, auth_key).step(cbc, Op::Decrypt, enc_key)
                }
            }
            Transform::Gcm { key, .. } => {
                let gcm = Algorithm::AesGcm { key_bits: Self::aes_bits(key) };
                SessionBuilder::new().step(gcm, if outbound { Op::Encrypt } else { Op::Decrypt }, key)
            }
        }
    }

    /// The request that encrypts `inner` as packet `seq` of SA `spi`. `iv`
    /// is the explicit IV ([`iv_len`](Self::iv_len) bytes).
    pub fn encap_request(&self, spi: u32, seq: u32, iv: &[u8], inner: &[u8]) -> Request {
        debug_assert_eq!(iv.len(), self.iv_len());
        let total = padded_len(inner.len(), self.align());
        let pad = total - inner.len() - 2;
        let mut data = Vec::with_capacity(total + 16);
        data.extend_from_slice(inner);
        data.extend((1..=pad).map(|i| i as u8));
        data.push(pad as u8);
        data.push(NEXT_IPV4);
        let mut hdr = [0u8; HEADER_LEN];
        hdr[..4].copy_from_slice(&spi.to_be_bytes());
        hdr[4..].copy_from_slice(&seq.to_be_bytes());
        let mut r = Request::new(data);
        match self {
            Transform::CbcHmac { .. } => {
                let mut aad = Vec::with_capacity(HEADER_LEN + 16);
                aad.extend_from_slice(&hdr);
                aad.extend_from_slice(iv);
                r.aad = aad;
                r.iv = iv.to_vec();
            }
            Transform::Gcm { salt, .. } => {
                r.aad = hdr.to_vec();
                let mut nonce = salt.to_vec();
                nonce.extend_from_slice(iv);
                r.iv = nonce;
            }
        }
        r
    }

    /// The ESP packet (header ‖ IV ‖ ciphertext ‖ ICV) from a completed
    /// [`encap_request`](Self::encap_request), appended to `out`.
    pub fn encap_finish(&self, r: &Request, out: &mut Vec<u8>) {
        out.extend_from_slice(&r.aad[..HEADER_LEN]);
        match self {
            Transform::CbcHmac { .. } => out.extend_from_slice(&r.iv),
            Transform::Gcm { .. } => out.extend_from_slice(&r.iv[4..]),
        }
        out.extend_from_slice(r.output());
        out.extend_from_slice(&r.tag[..self.icv_len()]);
    }

    /// The request that verifies and decrypts the ESP packet `pkt`
    /// (starting at the SPI), after the length checks.
    pub fn decap_request(&self, pkt: &[u8]) -> Result<Request, Drop> {
        let (ivl, icv) = (self.iv_len(), self.icv_len());
        let min_ct = match self {
            Transform::CbcHmac { .. } => 16,
            Transform::Gcm { .. } => 4,
        };
        if pkt.len() < HEADER_LEN + ivl + min_ct + icv {
            return Err(Drop::Truncated);
        }
        let ct = &pkt[HEADER_LEN + ivl..pkt.len() - icv];
        if !ct.len().is_multiple_of(self.align()) {
            return Err(Drop::Truncated);
        }
        let iv = &pkt[HEADER_LEN..HEADER_LEN + ivl];
        let mut r = Request::new(ct.to_vec()).with_tag(&pkt[pkt.len() - icv..]);
        match self {
            Transform::CbcHmac { .. } => {
                r.aad = pkt[..HEADER_LEN + ivl].to_vec();
                r.iv = iv.to_vec();
            }
            Transform::Gcm { salt, .. } => {
                r.aad = pkt[..HEADER_LEN].to_vec();
                let mut nonce = salt.to_vec();
                nonce.extend_from_slice(iv);
                r.iv = nonce;
            }
        }
        Ok(r)
    }
}

/// `len + 2` rounded up to `align`.
fn padded_len(len: usize, align: usize) -> usize {
    (len + 2).div_ceil(align) * align
}

/// The SPI and sequence number of an ESP packet.
pub fn parse_header(pkt: &[u8]) -> Result<(u32, u32), Drop> {
    if pkt.len() < HEADER_LEN {
        return Err(Drop::Truncated);
    }
    let spi = u32::from_be_bytes(pkt[..4].try_into().unwrap_or_default());
    let seq = u32::from_be_bytes(pkt[4..8].try_into().unwrap_or_default());
    Ok((spi, seq))
}

/// Checks the trailer of a decrypted payload and returns the inner packet's
/// length (RFC 4303 §2.4–2.6; pad bytes must be 1, 2, 3, … as §2.4's
/// default, which is what Linux sends).
pub fn check_trailer(pt: &[u8]) -> Result<usize, Drop> {
    if pt.len() < 2 {
        return Err(Drop::BadPadding);
    }
    let pad = pt[pt.len() - 2] as usize;
    let next = pt[pt.len() - 1];
    if pad + 2 > pt.len() {
        return Err(Drop::BadPadding);
    }
    let inner = pt.len() - 2 - pad;
    if !pt[inner..inner + pad].iter().enumerate().all(|(i, &b)| b as usize == i + 1) {
        return Err(Drop::BadPadding);
    }
    match next {
        NEXT_IPV4 => Ok(inner),
        NEXT_NONE => Err(Drop::Dummy),
        _ => Err(Drop::BadNextHeader),
    }
}

/// Source and destination of a well-formed IPv4 packet whose total length
/// is `pkt.len()` (the inner packet of tunnel mode).
pub fn inner_addrs(pkt: &[u8]) -> Result<(std::net::Ipv4Addr, std::net::Ipv4Addr), Drop> {
    let h = etherparse::Ipv4HeaderSlice::from_slice(pkt).map_err(|_| Drop::BadInner)?;
    if usize::from(h.total_len()) != pkt.len() {
        return Err(Drop::BadInner);
    }
    Ok((h.source_addr(), h.destination_addr()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailer_checks() {
        // inner 3 bytes, pad 1 2 3, pad length 3, next header 4
        assert_eq!(check_trailer(&[9, 9, 9, 1, 2, 3, 3, 4]), Ok(3));
        assert_eq!(check_trailer(&[9, 9, 9, 1, 2, 4, 3, 4]), Err(Drop::BadPadding));
        assert_eq!(check_trailer(&[1, 2, 7, 4]), Err(Drop::BadPadding));
        assert_eq!(check_trailer(&[9, 0, 59]), Err(Drop::Dummy));
        assert_eq!(check_trailer(&[9, 0, 17]), Err(Drop::BadNextHeader));
        assert_eq!(check_trailer(&[0]), Err(Drop::BadPadding));
        assert_eq!(check_trailer(&[0, 4]), Ok(0));
    }

    #[test]
    fn padding_fills_to_the_block() {
        let t = Transform::Gcm { key: Zeroizing::new(vec![0; 16]), salt: [0; 4], icv_len: 16 };
        for len in 0..40 {
            let r = t.encap_request(1, 1, &[0; 8], &vec![0xaa; len]);
            assert_eq!(r.data.len() % 4, 0);
            assert!(r.data.len() - len >= 2 && r.data.len() - len < 6);
            assert_eq!(check_trailer(&r.data), Ok(len));
        }
        let t = Transform::CbcHmac {
            enc_key: Zeroizing::new(vec![0; 16]),
            digest: DigestKind::Sha1,
            auth_key: Zeroizing::new(vec![0; 20]),
            icv_len: 12,
        };
        for len in 0..40 {
            let r = t.encap_request(1, 1, &[0; 16], &vec![0xaa; len]);
            assert_eq!(r.data.len() % 16, 0);
            assert_eq!(check_trailer(&r.data), Ok(len));
            assert_eq!(t.overhead(len), 8 + 16 + r.data.len() - len + 12);
        }
    }

    #[test]
    fn short_and_misaligned_packets_are_truncated() {
        let t = Transform::CbcHmac {
            enc_key: Zeroizing::new(vec![0; 16]),
            digest: DigestKind::Sha256,
            auth_key: Zeroizing::new(vec![0; 32]),
            icv_len: 16,
        };
        assert_eq!(parse_header(&[0; 7]), Err(Drop::Truncated));
        for n in 0..8 + 16 + 16 + 16 {
            assert_eq!(t.decap_request(&vec![0; n]).err(), Some(Drop::Truncated), "{n}");
        }
        assert!(t.decap_request(&[0; 8 + 16 + 16 + 16]).is_ok());
        assert_eq!(t.decap_request(&[0; 8 + 16 + 17 + 16]).err(), Some(Drop::Truncated));
    }
}
