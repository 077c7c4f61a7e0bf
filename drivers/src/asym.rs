//! Asymmetric operations of the software device: RSA (`rsa`, whose
//! arithmetic is constant-time), ECDSA over P-256 and P-384 (`p256`,
//! `p384`, `ecdsa`), X25519 (`x25519-dalek`) and ECDH over P-256 (`p256`).
//! Nothing here implements a primitive; this module parses keys, checks
//! lengths and maps the crates' answers to acrypto's.
//!
//! Keys are DER: a private key is PKCS#8 (`PrivateKeyInfo`), a public key
//! SubjectPublicKeyInfo; verify and encrypt also take a private key and
//! use its public half. A key is parsed once per session (at
//! [`prepare`], kept with the step's key as its schedule) and the parsed
//! form wipes itself on drop (the crates' `ZeroizeOnDrop` types).
//!
//! What a request carries (see [`Request`]):
//! - sign: the message (or its SHA-256 digest, `prehashed`) in; the
//!   signature out in the tag. RSA PKCS#1 v1.5 is deterministic and equals
//!   OpenSSL's byte for byte; PSS uses a 32-byte salt; ECDSA is RFC 6979
//!   deterministic, DER-encoded as OpenSSL writes it.
//! - verify: the message (or digest) in, the signature in the tag;
//!   `VerifyFailed` when it does not verify (a signature that is not even
//!   well formed DER or of the wrong length fails the same way, as OpenSSL
//!   reports both as a failed verification).
//! - encrypt / decrypt: the data is replaced by the result. OAEP decrypt
//!   reports a bad ciphertext as `BadPadding`. PKCS#1 v1.5 decrypt uses
//!   implicit rejection (the `rsa` crate, as RFC 8017 errata and OpenSSL
//!   3.2 do): a bad padding gives a deterministic random-looking plaintext,
//!   not an error, so the protocol above must authenticate what it gets.
//!   (OpenSSL 3.0 reports an error instead.)
//! - derive: the peer's public key (SubjectPublicKeyInfo DER) in, the
//!   shared secret out (32 bytes for both curves). An X25519 peer key that
//!   gives the all-zero secret is refused, as OpenSSL does.

use acrypto_core::{Algorithm, EcCurve, Error, Key, Op, Request, RsaPadding, Step};
use pkcs8::der::Decode;
use pkcs8::{DecodePrivateKey, ObjectIdentifier, PrivateKeyInfoRef};
use rsa::sha2::{Digest, Sha256};
use rsa::traits::PublicKeyParts;
use rsa::{Pkcs1v15Sign, PrivateKey as RsaPrivateKey, PublicKey as RsaPublicKey};
use spki::{DecodePublicKey, SubjectPublicKeyInfoRef};
use zeroize::Zeroizing;

/// SHA-256 output, the length of a prehashed request's data.
pub const DIGEST_LEN: usize = 32;

/// id-X25519 (RFC 8410).
const ID_X25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.110");

/// A parsed key, kept with the session's step.
pub enum AsymKey {
    /// An RSA private key (sign, decrypt; its public half for the rest).
    RsaPrivate(Box<RsaPrivateKey>),
    /// An RSA public key (verify, encrypt).
    RsaPublic(Box<RsaPublicKey>),
    /// A P-256 private key (ECDSA sign; ECDH).
    P256Private(Box<p256::ecdsa::SigningKey>),
    /// A P-256 public key (ECDSA verify).
    P256Public(Box<p256::ecdsa::VerifyingKey>),
    /// A P-384 private key (ECDSA sign).
    P384Private(Box<p384::ecdsa::SigningKey>),
    /// A P-384 public key (ECDSA verify).
    P384Public(Box<p384::ecdsa::VerifyingKey>),
    /// An X25519 private key.
    X25519(Box<x25519_dalek::StaticSecret>),
}

/// The parsed key and the algorithm and operation it was checked for
/// (a key's schedule is shared by its clones, which a hand-built step
/// could use for another algorithm).
pub struct Prepared {
    alg: Algorithm,
    op: Op,
    key: AsymKey,
}

fn bad_key(alg: Algorithm, what: impl std::fmt::Display) -> Error {
    Error::InvalidKey(format!("{alg}: {what}"))
}

/// Parses `der` as the key `alg` and `op` need; a malformed key or one of
/// the wrong type or size is `InvalidKey`.
pub fn parse_key(alg: Algorithm, op: Op, der: &[u8]) -> Result<AsymKey, Error> {
    if !op.fits(alg) {
        return Err(Error::InvalidArgument(format!("{op:?} does not apply to {alg}")));
    }
    let private = op.needs_private_key();
    // A verify or encrypt step may be given either kind of key.
    let is_private = PrivateKeyInfoRef::from_der(der).is_ok();
    if private && !is_private {
        return Err(bad_key(alg, format!("{op:?} needs a PKCS#8 private key (DER)")));
    }
    let key = match alg {
        Algorithm::Rsa { bits, .. } => {
            let (key, size) = if is_private {
                let k = RsaPrivateKey::from_pkcs8_der(der)
                    .map_err(|e| bad_key(alg, format!("not an RSA private key: {e}")))?;
                let n = k.size();
                (AsymKey::RsaPrivate(Box::new(k)), n)
            } else {
                let k = RsaPublicKey::from_public_key_der(der)
                    .map_err(|e| bad_key(alg, format!("not an RSA public key (SubjectPublicKeyInfo DER): {e}")))?;
                let n = k.size();
                (AsymKey::RsaPublic(Box::new(k)), n)
            };
            if size * 8 != usize::from(bits) {
                return Err(bad_key(alg, format!("the key has a {}-bit modulus", size * 8)));
            }
            key
        }
        Algorithm::Ecdsa(EcCurve::P256) | Algorithm::EcdhP256 => {
            if is_private {
                let k = p256::SecretKey::from_pkcs8_der(der)
                    .map_err(|e| bad_key(alg, format!("not a P-256 private key: {e}")))?;
                AsymKey::P256Private(Box::new(k.into()))
            } else {
                let k = p256::PublicKey::from_public_key_der(der)
                    .map_err(|e| bad_key(alg, format!("not a P-256 public key (SubjectPublicKeyInfo DER): {e}")))?;
                AsymKey::P256Public(Box::new(k.into()))
            }
        }
        Algorithm::Ecdsa(EcCurve::P384) => {
            if is_private {
                let k = p384::SecretKey::from_pkcs8_der(der)
                    .map_err(|e| bad_key(alg, format!("not a P-384 private key: {e}")))?;
                AsymKey::P384Private(Box::new(k.into()))
            } else {
                let k = p384::PublicKey::from_public_key_der(der)
                    .map_err(|e| bad_key(alg, format!("not a P-384 public key (SubjectPublicKeyInfo DER): {e}")))?;
                AsymKey::P384Public(Box::new(k.into()))
            }
        }
        Algorithm::X25519 => {
            let info = PrivateKeyInfoRef::from_der(der).map_err(|e| bad_key(alg, e))?;
            if info.algorithm.oid != ID_X25519 {
                return Err(bad_key(alg, format!("not an X25519 key (algorithm {})", info.algorithm.oid)));
            }
            // RFC 8410: the private key is an OCTET STRING inside the OCTET STRING.
            let inner = <&pkcs8::der::asn1::OctetStringRef>::from_der(info.private_key.as_bytes())
                .map_err(|e| bad_key(alg, format!("malformed X25519 private key: {e}")))?;
            let bytes: [u8; 32] = inner.as_bytes().try_into().map_err(|_| {
                bad_key(alg, format!("an X25519 private key has 32 bytes, got {}", inner.as_bytes().len()))
            })?;
            let bytes = Zeroizing::new(bytes);
            AsymKey::X25519(Box::new(x25519_dalek::StaticSecret::from(*bytes)))
        }
        other => return Err(Error::Unsupported(format!("{other} is not an asymmetric algorithm"))),
    };
    Ok(key)
}

/// Parses the step's key once and keeps it with the key (the driver's
/// `prepare`, and the first request's if a step was never prepared).
pub fn prepare(step: &Step) -> Result<(), Error> {
    prepared(step, &mut None).map(|_| ())
}

/// The step's parsed key: the session's, or (when the key's slot holds
/// another driver's schedule) one parsed into `scratch`.
fn prepared<'a>(step: &'a Step, scratch: &'a mut Option<Prepared>) -> Result<&'a Prepared, Error> {
    let make = |der: &[u8]| parse_key(step.alg, step.op, der).map(|key| Prepared { alg: step.alg, op: step.op, key });
    let key: &Key = &step.key;
    match key.schedule(make)? {
        Some(p) if p.alg == step.alg && p.op == step.op => Ok(p),
        _ => Ok(scratch.insert(make(key.bytes())?)),
    }
}

/// The 32-byte SHA-256 digest a sign or verify step works on.
pub(crate) fn digest_of(req: &Request) -> Result<[u8; DIGEST_LEN], Error> {
    let data = req.current();
    if req.prehashed {
        data.try_into().map_err(|_| {
            Error::InvalidLength(format!(
                "a prehashed request carries a {DIGEST_LEN}-byte SHA-256 digest, got {} bytes",
                data.len()
            ))
        })
    } else {
        Ok(Sha256::digest(data).into())
    }
}

/// Runs one asymmetric step.
pub fn apply(step: &Step, req: &mut Request) -> Result<(), Error> {
    let alg = step.alg;
    alg.check_key(step.key.bytes())?;
    let mut scratch = None;
    let p = prepared(step, &mut scratch)?;
    match step.op {
        Op::Sign => {
            let hash = digest_of(req)?;
            let sig = sign(alg, &p.key, &hash)?;
            req.tag.clear();
            req.tag.extend_from_slice(&sig);
            Ok(())
        }
        Op::Verify => {
            let hash = digest_of(req)?;
            verify(alg, &p.key, &hash, &req.tag)
        }
        Op::Encrypt => {
            let out = encrypt(alg, &p.key, req.current())?;
            replace(req, &out);
            Ok(())
        }
        Op::Decrypt => {
            let out = decrypt(alg, &p.key, req.current())?;
            replace(req, &out);
            Ok(())
        }
        Op::Derive => {
            let secret = derive(alg, &p.key, req.current())?;
            replace(req, &secret);
            Ok(())
        }
        op => Err(Error::InvalidArgument(format!("{op:?} does not apply to {alg}"))),
    }
}

/// Replaces the request's current contents with `value`.
fn replace(req: &mut Request, value: &[u8]) {
    let buf = req.current_mut();
    buf.clear();
    buf.extend_from_slice(value);
}

fn wrong_key(alg: Algorithm, op: &str) -> Error {
    Error::InvalidKey(format!("{alg}: {op} needs a private key"))
}

fn sign(alg: Algorithm, key: &AsymKey, hash: &[u8]) -> Result<Vec<u8>, Error> {
    use ecdsa::signature::hazmat::PrehashSigner;
    let failed = |e: &dyn std::fmt::Display| Error::DeviceFailure(format!("{alg} sign: {e}"));
    match (alg, key) {
        (Algorithm::Rsa { padding: RsaPadding::Pkcs1, .. }, AsymKey::RsaPrivate(k)) => {
            k.sign(Pkcs1v15Sign::new::<Sha256>(), hash).map_err(|e| failed(&e))
        }
        (Algorithm::Rsa { padding: RsaPadding::Pss, .. }, AsymKey::RsaPrivate(k)) => {
            k.pss_sign_prehash::<Sha256>(hash).map_err(|e| failed(&e))
        }
        (Algorithm::Ecdsa(EcCurve::P256), AsymKey::P256Private(k)) => {
            let sig: p256::ecdsa::Signature = k.sign_prehash(hash).map_err(|e| failed(&e))?;
            Ok(sig.to_der().as_bytes().to_vec())
        }
        (Algorithm::Ecdsa(EcCurve::P384), AsymKey::P384Private(k)) => {
            let sig: p384::ecdsa::Signature = k.sign_prehash(hash).map_err(|e| failed(&e))?;
            Ok(sig.to_der().as_bytes().to_vec())
        }
        _ => Err(wrong_key(alg, "sign")),
    }
}

fn rsa_public(key: &AsymKey) -> Option<&RsaPublicKey> {
    match key {
        AsymKey::RsaPrivate(k) => Some(k.as_ref().as_ref()),
        AsymKey::RsaPublic(k) => Some(k),
        _ => None,
    }
}

fn verify(alg: Algorithm, key: &AsymKey, hash: &[u8], sig: &[u8]) -> Result<(), Error> {
    use ecdsa::signature::hazmat::PrehashVerifier;
    let ok = match (alg, key) {
        (Algorithm::Rsa { padding, .. }, k) => {
            let k = rsa_public(k).ok_or_else(|| bad_key(alg, "not an RSA key"))?;
            match padding {
                RsaPadding::Pkcs1 => k.verify(Pkcs1v15Sign::new::<Sha256>(), hash, sig).is_ok(),
                // Any salt length, as OpenSSL's default (`auto`) verifies.
                RsaPadding::Pss => {
                    let pss = rsa::Pss::<Sha256> { blinded: false, digest: Sha256::new(), salt_len: None };
                    k.verify(pss, hash, sig).is_ok()
                }
                RsaPadding::Oaep => return Err(Error::InvalidArgument(format!("Verify does not apply to {alg}"))),
            }
        }
        (Algorithm::Ecdsa(EcCurve::P256), k) => {
            let vk = match k {
                AsymKey::P256Private(s) => *s.verifying_key(),
                AsymKey::P256Public(v) => **v,
                _ => return Err(bad_key(alg, "not a P-256 key")),
            };
            p256::ecdsa::Signature::from_der(sig).is_ok_and(|s| vk.verify_prehash(hash, &s).is_ok())
        }
        (Algorithm::Ecdsa(EcCurve::P384), k) => {
            let vk = match k {
                AsymKey::P384Private(s) => *s.verifying_key(),
                AsymKey::P384Public(v) => **v,
                _ => return Err(bad_key(alg, "not a P-384 key")),
            };
            p384::ecdsa::Signature::from_der(sig).is_ok_and(|s| vk.verify_prehash(hash, &s).is_ok())
        }
        _ => return Err(Error::InvalidArgument(format!("Verify does not apply to {alg}"))),
    };
    if ok {
        Ok(())
    } else {
        Err(Error::VerifyFailed)
    }
}

fn encrypt(alg: Algorithm, key: &AsymKey, msg: &[u8]) -> Result<Vec<u8>, Error> {
    let Algorithm::Rsa { padding, .. } = alg else {
        return Err(Error::InvalidArgument(format!("Encrypt does not apply to {alg}")));
    };
    let k = rsa_public(key).ok_or_else(|| bad_key(alg, "not an RSA key"))?;
    // The longest message each padding takes (RFC 8017 7.1.1, 7.2.1).
    let max = match padding {
        RsaPadding::Oaep => k.size().saturating_sub(2 * DIGEST_LEN + 2),
        _ => k.size().saturating_sub(11),
    };
    if msg.len() > max {
        return Err(Error::InvalidLength(format!("{alg} encrypts at most {max} bytes, got {}", msg.len())));
    }
    let r = match padding {
        RsaPadding::Oaep => k.oaep_encrypt::<Sha256>(msg),
        RsaPadding::Pkcs1 => k.pkcs1v15_encrypt(msg),
        RsaPadding::Pss => return Err(Error::InvalidArgument(format!("Encrypt does not apply to {alg}"))),
    };
    r.map_err(|e| Error::DeviceFailure(format!("{alg} encrypt: {e}")))
}

fn decrypt(alg: Algorithm, key: &AsymKey, ct: &[u8]) -> Result<Zeroizing<Vec<u8>>, Error> {
    let (Algorithm::Rsa { padding, .. }, AsymKey::RsaPrivate(k)) = (alg, key) else {
        return Err(wrong_key(alg, "decrypt"));
    };
    if ct.len() != k.size() {
        return Err(Error::InvalidLength(format!(
            "{alg}: a ciphertext is {} bytes (the modulus size), got {}",
            k.size(),
            ct.len()
        )));
    }
    let r = match padding {
        RsaPadding::Oaep => k.oaep_decrypt::<Sha256>(ct),
        RsaPadding::Pkcs1 => k.pkcs1v15_decrypt(ct),
        RsaPadding::Pss => return Err(Error::InvalidArgument(format!("Decrypt does not apply to {alg}"))),
    };
    r.map(Zeroizing::new).map_err(|_| Error::BadPadding)
}

fn derive(alg: Algorithm, key: &AsymKey, peer: &[u8]) -> Result<Zeroizing<Vec<u8>>, Error> {
    let bad_peer = |e: &dyn std::fmt::Display| {
        Error::InvalidArgument(format!("{alg}: the peer key is not a public key of this algorithm: {e}"))
    };
    match (alg, key) {
        (Algorithm::X25519, AsymKey::X25519(k)) => {
            let spki = SubjectPublicKeyInfoRef::from_der(peer).map_err(|e| bad_peer(&e))?;
            if spki.algorithm.oid != ID_X25519 {
                return Err(bad_peer(&format!("algorithm {}", spki.algorithm.oid)));
            }
            let raw: [u8; 32] = spki
                .subject_public_key
                .as_bytes()
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| bad_peer(&"an X25519 public key has 32 bytes"))?;
            let shared = k.diffie_hellman(&x25519_dalek::PublicKey::from(raw));
            if !shared.was_contributory() {
                return Err(Error::InvalidArgument(format!("{alg}: the peer key gives the all-zero secret")));
            }
            Ok(Zeroizing::new(shared.as_bytes().to_vec()))
        }
        (Algorithm::EcdhP256, AsymKey::P256Private(k)) => {
            let peer = p256::PublicKey::from_public_key_der(peer).map_err(|e| bad_peer(&e))?;
            let secret = p256::SecretKey::from(k.as_ref());
            let shared = p256::ecdh::diffie_hellman(secret.to_nonzero_scalar(), peer.as_affine());
            Ok(Zeroizing::new(shared.raw_secret_bytes().to_vec()))
        }
        _ => Err(wrong_key(alg, "derive")),
    }
}

/// What a DER key is, as far as choosing an algorithm goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyType {
    /// RSA with a modulus of this many bits.
    Rsa(usize),
    /// An EC key on P-256.
    P256,
    /// An EC key on P-384.
    P384,
    /// An X25519 key.
    X25519,
}

/// id-ecPublicKey, rsaEncryption and the two named curves.
const ID_EC: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const ID_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const ID_P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const ID_P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");

/// The type of a PKCS#8 private key or SubjectPublicKeyInfo, and whether
/// it is private.
pub fn describe(der: &[u8]) -> Result<(KeyType, bool), Error> {
    let bad = |e: &dyn std::fmt::Display| Error::InvalidKey(format!("not a PKCS#8 or SubjectPublicKeyInfo key: {e}"));
    let (alg, private) = match PrivateKeyInfoRef::from_der(der) {
        Ok(info) => (info.algorithm, true),
        Err(e) => match SubjectPublicKeyInfoRef::from_der(der) {
            Ok(spki) => (spki.algorithm, false),
            Err(_) => return Err(bad(&e)),
        },
    };
    let kind = match alg.oid {
        ID_X25519 => KeyType::X25519,
        ID_EC => match alg.parameters.and_then(|p| p.decode_as::<ObjectIdentifier>().ok()) {
            Some(ID_P256) => KeyType::P256,
            Some(ID_P384) => KeyType::P384,
            Some(c) => return Err(Error::Unsupported(format!("EC curve {c} (P-256 and P-384 are supported)"))),
            None => return Err(bad(&"an EC key without a named curve")),
        },
        ID_RSA => {
            let bits = if private {
                RsaPrivateKey::from_pkcs8_der(der).map_err(|e| bad(&e))?.size() * 8
            } else {
                RsaPublicKey::from_public_key_der(der).map_err(|e| bad(&e))?.size() * 8
            };
            KeyType::Rsa(bits)
        }
        o => return Err(Error::Unsupported(format!("key algorithm {o}"))),
    };
    Ok((kind, private))
}

/// The DER inside a PEM block (`PRIVATE KEY` or `PUBLIC KEY`), wiped when
/// dropped. A traditional block (`RSA PRIVATE KEY`, `EC PRIVATE KEY`) is
/// refused with the command that converts it.
pub fn pem_to_der(text: &[u8]) -> Result<Zeroizing<Vec<u8>>, Error> {
    let (label, der) =
        pkcs8::der::pem::decode_vec(text).map_err(|e| Error::InvalidKey(format!("not a PEM key: {e}")))?;
    let der = Zeroizing::new(der);
    match label {
        "PRIVATE KEY" | "PUBLIC KEY" => Ok(der),
        other => Err(Error::InvalidKey(format!(
            "a PEM '{other}' key: acrypto takes PKCS#8 ('PRIVATE KEY') or SubjectPublicKeyInfo ('PUBLIC KEY'); \
             convert it with `openssl pkcs8 -topk8 -nocrypt` or `openssl pkey -pubout`"
        ))),
    }
}
