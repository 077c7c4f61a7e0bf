//! A PKCS#11 token as an acrypto device (`pkcs11:MODULE.so[?slot=N&pin-source=FILE]`),
//! through the `cryptoki` crate; the module is loaded at run time, so a
//! build needs no PKCS#11 library.
//!
//! - Capabilities: every acrypto algorithm whose mechanism the token lists
//!   (`C_GetMechanismList`, `C_GetMechanismInfo` with its key sizes and
//!   flags): AES ECB/CBC/GCM, SHA-1/SHA-256, HMAC-SHA1/SHA256, RSA PKCS#1
//!   v1.5 / PSS / OAEP (OAEP only when the token takes SHA-256 OAEP, which
//!   is probed), ECDSA P-256/P-384, ECDH P-256, rng. (AES-CTR: `cryptoki`
//!   0.12 has no mechanism value for it, so it is not offered.)
//! - Keys from the session (bytes): imported once per key and device as a
//!   session object (`CKA_TOKEN=false`, `CKA_SENSITIVE=true`,
//!   `CKA_EXTRACTABLE=false`), kept with the key ([`Key::schedule`]) and
//!   destroyed when the key goes.
//! - Keys by reference: an RFC 7512 URI (`pkcs11:object=LABEL;id=%01`,
//!   optionally `token=`, `manufacturer=`, `model=`, `serial=`, `type=`);
//!   the device [`holds`](Driver::holds) it when its token matches and an
//!   object matches; the object of the class the operation needs is found
//!   at `prepare`.
//! - One worker thread with its own PKCS#11 session takes batches; another
//!   session (the device's) makes and finds objects.
//! - Errors: `CKR_SIGNATURE_INVALID` is `VerifyFailed` (as the software
//!   device's failed verify); a token that is gone
//!   (`CKR_CRYPTOKI_NOT_INITIALIZED`, `CKR_DEVICE_REMOVED`,
//!   `CKR_TOKEN_NOT_PRESENT`, `CKR_SESSION_HANDLE_INVALID`, ...) marks the
//!   device broken: its queued work moves to other devices unless bound.
//!
//! Signatures are over the SHA-256 digest of the data (or the data, when
//! prehashed), as the software device's: PKCS#1 v1.5 is `CKM_RSA_PKCS` over
//! the DigestInfo (the `rsa` crate's prefix), PSS is `CKM_RSA_PKCS_PSS` with
//! MGF1-SHA256 and a 32-byte salt (PKCS#11 fixes the salt length, so the
//! token verifies only 32-byte salts), ECDSA is `CKM_ECDSA`, whose raw
//! `r || s` is converted to and from DER with the `ecdsa` crate's types.

use crate::asym::{self, AsymKey};
use crate::worker::{lock, Wakeup};
use acrypto_core::alg::MIN_VERIFY_TAG;
use acrypto_core::{
    Algorithm, Capability, CipherMode, DeviceClass, DeviceHandle, DigestKind, Driver, EcCurve, Error, Key, Op, OpKind,
    Request, Result, RsaPadding, Step,
};
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11 as Module};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::aead::GcmParams;
use cryptoki::mechanism::elliptic_curve::{EcKdf, Ecdh1DeriveParams};
use cryptoki::mechanism::rsa::{PkcsMgfType, PkcsOaepParams, PkcsOaepSource, PkcsPssParams};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session as CkSession, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;
use pkcs8::der::Encode;
use rsa::traits::{PrivateKeyParts, PublicKeyParts};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock, RwLockReadGuard, Weak};
use std::thread::JoinHandle;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// How many requests the worker takes at once.
const BATCH: usize = 32;
/// The queue bound of every capability.
const QUEUE_LEN: usize = 1024;
/// The SHA-256 digest a signature is made over.
const DIGEST_LEN: usize = asym::DIGEST_LEN;

/// What a `pkcs11:` device item says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pkcs11Spec {
    /// The module (`libsofthsm2.so`, a path or a name the loader finds).
    pub module: PathBuf,
    /// `slot=N`: the slot id.
    pub slot: Option<u64>,
    /// `token=LABEL`: the slot whose token has this label.
    pub token: Option<String>,
    /// `pin-source=FILE` (or `file:FILE`): the file holding the user PIN.
    pub pin_source: Option<PathBuf>,
}

impl Pkcs11Spec {
    /// Parses what follows `pkcs11:` in a device specification.
    pub fn parse(text: &str) -> Result<Pkcs11Spec> {
        let (module, query) = text.split_once('?').unwrap_or((text, ""));
        if module.is_empty() {
            return Err(Error::InvalidArgument(
                "pkcs11: the device item names no module (pkcs11:MODULE.so[?slot=N&pin-source=FILE])".into(),
            ));
        }
        let mut spec = Pkcs11Spec { module: PathBuf::from(module), slot: None, token: None, pin_source: None };
        for attr in query.split(['&', ';']).filter(|a| !a.is_empty()) {
            let (k, v) = attr.split_once('=').unwrap_or((attr, ""));
            let v = pct_decode(v)?;
            match k {
                "slot" | "slot-id" => {
                    spec.slot = Some(v.parse().map_err(|_| Error::InvalidArgument(format!("pkcs11: bad slot '{v}'")))?)
                }
                "token" => spec.token = Some(v),
                "pin-source" => spec.pin_source = Some(PathBuf::from(v.strip_prefix("file:").unwrap_or(&v))),
                other => {
                    return Err(Error::InvalidArgument(format!(
                        "pkcs11: unknown attribute '{other}' (known: slot, token, pin-source)"
                    )))
                }
            }
        }
        Ok(spec)
    }
}

/// RFC 3986 percent-decoding of one attribute value.
fn pct_decode(v: &str) -> Result<String> {
    let bytes = pct_decode_bytes(v)?;
    String::from_utf8(bytes).map_err(|_| Error::InvalidArgument(format!("pkcs11: '{v}' is not UTF-8")))
}

fn pct_decode_bytes(v: &str) -> Result<Vec<u8>> {
    let b = v.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = v
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| Error::InvalidArgument(format!("pkcs11: bad percent-encoding in '{v}'")))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Ok(out)
}

/// An RFC 7512 key reference: the attributes acrypto reads.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct KeyUri {
    /// `object=`: the label.
    pub label: Option<String>,
    /// `id=`: the CKA_ID bytes.
    pub id: Option<Vec<u8>>,
    /// `token=`, `manufacturer=`, `model=`, `serial=`: the token's.
    pub token: Option<String>,
    /// The token's manufacturer.
    pub manufacturer: Option<String>,
    /// The token's model.
    pub model: Option<String>,
    /// The token's serial number.
    pub serial: Option<String>,
    /// `type=`: private, public, secret.
    pub class: Option<String>,
}

impl KeyUri {
    /// Parses a `pkcs11:` URI; `None` for anything else (or a URI that
    /// names neither a label nor an id).
    pub fn parse(text: &str) -> Option<KeyUri> {
        let rest = text.strip_prefix("pkcs11:")?;
        let path = rest.split_once('?').map_or(rest, |(p, _)| p);
        let mut u = KeyUri::default();
        for attr in path.split(';').filter(|a| !a.is_empty()) {
            let (k, v) = attr.split_once('=')?;
            match k {
                "object" => u.label = Some(pct_decode(v).ok()?),
                "id" => u.id = Some(pct_decode_bytes(v).ok()?),
                "token" => u.token = Some(pct_decode(v).ok()?),
                "manufacturer" => u.manufacturer = Some(pct_decode(v).ok()?),
                "model" => u.model = Some(pct_decode(v).ok()?),
                "serial" => u.serial = Some(pct_decode(v).ok()?),
                "type" => u.class = Some(pct_decode(v).ok()?),
                // Other path attributes (library-*, slot-*) do not narrow
                // the object for acrypto.
                _ => {}
            }
        }
        (u.label.is_some() || u.id.is_some()).then_some(u)
    }

    fn template(&self) -> Vec<Attribute> {
        let mut t = Vec::new();
        if let Some(l) = &self.label {
            t.push(Attribute::Label(l.as_bytes().to_vec()));
        }
        if let Some(id) = &self.id {
            t.push(Attribute::Id(id.clone()));
        }
        t
    }

    fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(l) = &self.label {
            parts.push(format!("label '{l}'"));
        }
        if let Some(id) = &self.id {
            parts.push(format!("id {}", id.iter().map(|b| format!("{b:02x}")).collect::<String>()));
        }
        parts.join(" and ")
    }
}

/// The token a device talks to, as `detail()` shows it.
#[derive(Debug, Clone)]
struct TokenDesc {
    label: String,
    manufacturer: String,
    model: String,
    serial: String,
}

/// Modules loaded in this process, by path: PKCS#11 is initialised once
/// per process, and every device of the module shares the context.
/// Each module comes with its gate: every call into the module holds it
/// shared, `C_Finalize` holds it exclusively (a module may not be
/// finalised while another thread is inside it: SoftHSM2 then crashes).
type Gate = Arc<RwLock<()>>;

fn modules() -> &'static Mutex<Vec<(PathBuf, Module, Gate)>> {
    static M: OnceLock<Mutex<Vec<(PathBuf, Module, Gate)>>> = OnceLock::new();
    M.get_or_init(Mutex::default)
}

fn load_module(path: &Path) -> Result<(Module, Gate)> {
    let mut m = lock(modules());
    if let Some((_, ctx, gate)) = m.iter().find(|(p, _, _)| p == path) {
        return Ok((ctx.clone(), gate.clone()));
    }
    let ctx = Module::new(path)
        .map_err(|e| Error::NoDevice(format!("pkcs11: cannot load the module {}: {e}", path.display())))?;
    match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Ok(()) | Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
        Err(e) => return Err(Error::NoDevice(format!("pkcs11: C_Initialize of {}: {e}", path.display()))),
    }
    let gate = Gate::default();
    m.push((path.to_path_buf(), ctx.clone(), gate.clone()));
    Ok((ctx, gate))
}

thread_local! {
    /// How deep this thread is inside a gate (a read lock is not taken
    /// twice: with a writer waiting, the second would wait for ever).
    static INSIDE: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// A module's gate held shared by this thread.
struct Inside<'a>(#[allow(dead_code)] Option<RwLockReadGuard<'a, ()>>);

impl Drop for Inside<'_> {
    fn drop(&mut self) {
        INSIDE.with(|d| d.set(d.get() - 1));
    }
}

/// Holds a module's gate shared (poison-tolerant, reentrant per thread).
fn enter(gate: &RwLock<()>) -> Inside<'_> {
    let depth = INSIDE.with(|d| d.replace(d.get() + 1));
    Inside((depth == 0).then(|| gate.read().unwrap_or_else(|p| p.into_inner())))
}

/// Whether a PKCS#11 answer means the token (or the module) is gone: the
/// device is then broken, not the request.
fn is_fatal(e: &CkError) -> bool {
    matches!(
        e,
        CkError::Pkcs11(
            RvError::CryptokiNotInitialized
                | RvError::DeviceRemoved
                | RvError::TokenNotPresent
                | RvError::SessionHandleInvalid
                | RvError::SessionClosed
                | RvError::DeviceError
                | RvError::GeneralError
                | RvError::SlotIdInvalid,
            _
        )
    )
}

/// A failed call of a request: the acrypto error, and whether the device broke.
struct Failure {
    error: Error,
    fatal: bool,
}

impl Failure {
    fn request(error: Error) -> Failure {
        Failure { error, fatal: false }
    }
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        Failure::request(error)
    }
}

fn ck(what: &str) -> impl Fn(CkError) -> Failure + '_ {
    move |e| {
        let fatal = is_fatal(&e);
        match e {
            // The return value's name (CKR_PIN_INCORRECT as `PinIncorrect`),
            // not the specification's paragraph that cryptoki prints.
            CkError::Pkcs11(rv, f) => classify(what, rv, f, fatal),
            other => Failure { error: Error::DeviceFailure(format!("pkcs11 {what}: {other}")), fatal },
        }
    }
}

fn classify(what: &str, rv: RvError, f: cryptoki::context::Function, fatal: bool) -> Failure {
    let text = format!("pkcs11 {what}: {rv:?} (in {f:?})");
    let error = match rv {
        RvError::SignatureInvalid | RvError::SignatureLenRange => Error::VerifyFailed,
        RvError::EncryptedDataInvalid | RvError::EncryptedDataLenRange => Error::BadPadding,
        RvError::DataLenRange | RvError::DataInvalid => Error::InvalidLength(text),
        RvError::KeyTypeInconsistent | RvError::KeyFunctionNotPermitted => Error::InvalidKey(text),
        _ if fatal => Error::DeviceBroken(text),
        _ => Error::DeviceFailure(text),
    };
    Failure { error, fatal }
}

/// What the device and its worker share.
struct Shared {
    name: String,
    /// Unique in the process: the key of this device's objects in a key's schedule.
    uid: u64,
    /// `None` once finalised.
    module: Mutex<Option<Module>>,
    module_path: PathBuf,
    gate: Gate,
    slot: Slot,
    token: TokenDesc,
    logged_in: bool,
    caps: Vec<Algorithm>,
    /// The device's own session: makes, finds and destroys objects.
    session: Mutex<Option<CkSession>>,
    broken: AtomicBool,
    handle: Mutex<Option<DeviceHandle>>,
    wake: Wakeup,
    thread: Mutex<Option<JoinHandle<()>>>,
}

/// A PKCS#11 token as a device.
pub struct Pkcs11Device {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Pkcs11Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pkcs11Device").field("name", &self.shared.name).field("token", &self.shared.token).finish()
    }
}

fn next_uid() -> u64 {
    static N: AtomicU64 = AtomicU64::new(1);
    N.fetch_add(1, Ordering::Relaxed)
}

/// Reads the PIN from a pin-source file (trailing newline dropped).
fn read_pin(path: &Path) -> Result<Zeroizing<String>> {
    let text =
        Zeroizing::new(std::fs::read_to_string(path).map_err(|e| {
            Error::InvalidArgument(format!("pkcs11: cannot read the PIN file {}: {e}", path.display()))
        })?);
    Ok(Zeroizing::new(text.trim_end_matches(['\n', '\r']).to_string()))
}

impl Pkcs11Device {
    /// Opens the token that `spec` names as device `name`.
    ///
    /// # Errors
    /// `NoDevice` when the module cannot be loaded or no slot matches;
    /// `InvalidArgument` for an unreadable PIN file or a wrong PIN.
    pub fn open(name: impl Into<String>, spec: &Pkcs11Spec) -> Result<Pkcs11Device> {
        let name = name.into();
        let (module, gate) = load_module(&spec.module)?;
        let fail = |what: &str, e: CkError| Error::NoDevice(format!("pkcs11 {}: {what}: {e}", spec.module.display()));
        let slots = module.get_slots_with_token().map_err(|e| fail("C_GetSlotList", e))?;
        let mut chosen = None;
        for s in slots {
            if spec.slot.is_some_and(|n| n != s.id()) {
                continue;
            }
            let info = module.get_token_info(s).map_err(|e| fail("C_GetTokenInfo", e))?;
            if spec.token.as_deref().is_some_and(|t| t != info.label().trim_end()) {
                continue;
            }
            chosen = Some((s, info));
            break;
        }
        let Some((slot, info)) = chosen else {
            return Err(Error::NoDevice(format!(
                "pkcs11 {}: no slot with a token{}{}",
                spec.module.display(),
                spec.slot.map(|n| format!(" with id {n}")).unwrap_or_default(),
                spec.token.as_deref().map(|t| format!(" labelled '{t}'")).unwrap_or_default()
            )));
        };
        let token = TokenDesc {
            label: info.label().trim_end().to_string(),
            manufacturer: info.manufacturer_id().trim_end().to_string(),
            model: info.model().trim_end().to_string(),
            serial: info.serial_number().trim_end().to_string(),
        };
        let session = module.open_rw_session(slot).map_err(|e| fail("C_OpenSession", e))?;
        let mut logged_in = false;
        if let Some(path) = &spec.pin_source {
            let pin = read_pin(path)?;
            match session.login(UserType::User, Some(&AuthPin::from(pin.as_str()))) {
                Ok(()) | Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => logged_in = true,
                Err(CkError::Pkcs11(RvError::PinIncorrect, _)) => {
                    return Err(Error::InvalidArgument(format!(
                        "pkcs11: the PIN in {} is incorrect for token '{}'",
                        path.display(),
                        token.label
                    )))
                }
                Err(CkError::Pkcs11(RvError::PinLocked, _)) => {
                    return Err(Error::InvalidArgument(format!(
                        "pkcs11: the user PIN of token '{}' is locked",
                        token.label
                    )))
                }
                Err(e) => return Err(fail("C_Login with the PIN", e)),
            }
        }
        let caps = probe(&module, slot, &session);
        Ok(Pkcs11Device {
            shared: Arc::new(Shared {
                name,
                uid: next_uid(),
                module: Mutex::new(Some(module)),
                module_path: spec.module.clone(),
                gate,
                slot,
                token,
                logged_in,
                caps,
                session: Mutex::new(Some(session)),
                broken: AtomicBool::new(false),
                handle: Mutex::default(),
                wake: Wakeup::default(),
                thread: Mutex::default(),
            }),
        })
    }

    /// The token's label.
    pub fn token_label(&self) -> &str {
        &self.shared.token.label
    }

    /// Calls `C_Finalize` on the device's module, as if the token were
    /// pulled out: every later call of every device of that module fails
    /// with `CKR_CRYPTOKI_NOT_INITIALIZED`, and each device marks itself
    /// broken at its next call. For tests of a token that disappears.
    ///
    /// # Errors
    /// What `C_Finalize` answers.
    pub fn finalize_module(&self) -> Result<()> {
        let Some(module) = lock(&self.shared.module).take() else { return Ok(()) };
        // The next open of this module initialises it again.
        lock(modules()).retain(|(p, _, _)| *p != self.shared.module_path);
        // Between two calls of every thread, as a token pulled out between
        // two requests: a call in progress finishes first.
        let _alone = self.shared.gate.write().unwrap_or_else(|p| p.into_inner());
        module.finalize().map_err(|e| Error::DeviceFailure(format!("pkcs11: C_Finalize: {e}")))
    }
}

/// The mechanism of each algorithm, and the key size the token must take
/// (bytes for AES and HMAC, bits for RSA and EC).
fn mechanism_of(alg: Algorithm) -> Option<(MechanismType, Option<usize>)> {
    Some(match alg {
        Algorithm::Aes { key_bits, mode: CipherMode::Ecb } => (MechanismType::AES_ECB, Some(usize::from(key_bits) / 8)),
        Algorithm::Aes { key_bits, mode: CipherMode::Cbc } => (MechanismType::AES_CBC, Some(usize::from(key_bits) / 8)),
        Algorithm::AesGcm { key_bits } => (MechanismType::AES_GCM, Some(usize::from(key_bits) / 8)),
        Algorithm::Digest(DigestKind::Sha1) => (MechanismType::SHA1, None),
        Algorithm::Digest(DigestKind::Sha256) => (MechanismType::SHA256, None),
        Algorithm::Hmac(DigestKind::Sha1) => (MechanismType::SHA1_HMAC, None),
        Algorithm::Hmac(DigestKind::Sha256) => (MechanismType::SHA256_HMAC, None),
        Algorithm::Rsa { bits, padding: RsaPadding::Pkcs1 } => (MechanismType::RSA_PKCS, Some(usize::from(bits))),
        Algorithm::Rsa { bits, padding: RsaPadding::Pss } => (MechanismType::RSA_PKCS_PSS, Some(usize::from(bits))),
        Algorithm::Rsa { bits, padding: RsaPadding::Oaep } => (MechanismType::RSA_PKCS_OAEP, Some(usize::from(bits))),
        Algorithm::Ecdsa(EcCurve::P256) => (MechanismType::ECDSA, Some(256)),
        Algorithm::Ecdsa(EcCurve::P384) => (MechanismType::ECDSA, Some(384)),
        Algorithm::EcdhP256 => (MechanismType::ECDH1_DERIVE, Some(256)),
        Algorithm::Rng => return None,
        _ => return None,
    })
}

/// The algorithms the token offers: listed mechanisms, with the flags the
/// operations need and the key size in range.
fn probe(module: &Module, slot: Slot, session: &CkSession) -> Vec<Algorithm> {
    let listed: Vec<MechanismType> = module.get_mechanism_list(slot).unwrap_or_default().into_iter().collect();
    let rng = module.get_token_info(slot).is_ok_and(|t| t.rng());
    let oaep_sha256 = listed.contains(&MechanismType::RSA_PKCS_OAEP) && probe_oaep_sha256(session);
    Algorithm::all()
        .filter(|&alg| {
            if alg == Algorithm::Rng {
                return rng;
            }
            let Some((mech, size)) = mechanism_of(alg) else { return false };
            if !listed.contains(&mech) {
                return false;
            }
            if matches!(alg, Algorithm::Rsa { padding: RsaPadding::Oaep, .. }) && !oaep_sha256 {
                return false;
            }
            let Ok(info) = module.get_mechanism_info(slot, mech) else { return false };
            let flags = match alg.kind() {
                OpKind::Cipher | OpKind::Aead => info.encrypt() && info.decrypt(),
                OpKind::Hash => info.digest(),
                OpKind::Mac => info.sign() && info.verify(),
                _ => match alg {
                    Algorithm::Rsa { padding: RsaPadding::Oaep, .. } => info.encrypt() && info.decrypt(),
                    Algorithm::EcdhP256 => info.derive(),
                    // PKCS#1 v1.5 signs; it encrypts too where the token says so.
                    _ => info.sign() && info.verify(),
                },
            };
            let in_range = size.is_none_or(|n| {
                // Some tokens give EC sizes in bytes; accept either reading.
                (info.min_key_size()..=info.max_key_size()).contains(&n)
                    || (matches!(alg, Algorithm::Ecdsa(_) | Algorithm::EcdhP256)
                        && (info.min_key_size()..=info.max_key_size()).contains(&n.div_ceil(8)))
                    || info.max_key_size() == 0
            });
            flags && in_range
        })
        .collect()
}

/// Whether the token takes OAEP with SHA-256 and MGF1-SHA256 (SoftHSM2
/// before 2.6 took only SHA-1): an encryption under a throwaway public key
/// made from the RFC 8017-sized modulus of a fixed key.
fn probe_oaep_sha256(session: &CkSession) -> bool {
    // Any odd 2048-bit modulus will do for the mechanism's parameter check.
    let mut modulus = vec![0xC5u8; 256];
    modulus[255] |= 1;
    let Ok(key) = session.create_object(&[
        Attribute::Class(ObjectClass::PUBLIC_KEY),
        Attribute::KeyType(KeyType::RSA),
        Attribute::Token(false),
        Attribute::Encrypt(true),
        Attribute::Modulus(modulus),
        Attribute::PublicExponent(vec![1, 0, 1]),
    ]) else {
        return false;
    };
    let params = PkcsOaepParams::new(MechanismType::SHA256, PkcsMgfType::MGF1_SHA256, PkcsOaepSource::empty());
    let ok = session.encrypt(&Mechanism::RsaPkcsOaep(params), key, b"probe").is_ok();
    let _ = session.destroy_object(key);
    ok
}

/// The token objects of one key, one per device that used it; each
/// imported object is destroyed when the key goes.
#[derive(Default)]
struct TokenKeys {
    objects: Mutex<Vec<TokenKey>>,
}

struct TokenKey {
    device: u64,
    alg: Algorithm,
    op: Op,
    object: ObjectHandle,
    /// Imported by acrypto (destroyed on drop), not a reference's object.
    imported: bool,
    owner: Weak<Shared>,
}

impl Drop for TokenKeys {
    fn drop(&mut self) {
        for k in lock(&self.objects).drain(..) {
            if !k.imported {
                continue;
            }
            if let Some(dev) = k.owner.upgrade() {
                let _in = enter(&dev.gate);
                if let Some(s) = lock(&dev.session).as_ref() {
                    // A session object goes with the session anyway; an
                    // error here (a token that is gone) leaves nothing.
                    let _ = s.destroy_object(k.object);
                }
            }
        }
    }
}

/// The DER big integer (unsigned, big-endian, without leading zeros) of `v`.
fn be(bytes: &[u8]) -> Vec<u8> {
    let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len().saturating_sub(1));
    bytes[start..].to_vec()
}

/// The DER of a named curve's OID (CKA_EC_PARAMS).
fn ec_params(curve: EcCurve) -> Vec<u8> {
    let oid = match curve {
        EcCurve::P256 => pkcs8::ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7"),
        EcCurve::P384 => pkcs8::ObjectIdentifier::new_unwrap("1.3.132.0.34"),
    };
    oid.to_der().unwrap_or_default()
}

/// CKA_EC_POINT: the uncompressed SEC1 point as a DER OCTET STRING.
fn ec_point(sec1: &[u8]) -> Result<Vec<u8>> {
    pkcs8::der::asn1::OctetString::new(sec1)
        .and_then(|o| o.to_der())
        .map_err(|e| Error::Internal(format!("pkcs11: encoding an EC point: {e}")))
}

impl Shared {
    fn session<T>(&self, f: impl FnOnce(&CkSession) -> std::result::Result<T, Failure>) -> Result<T> {
        let _in = enter(&self.gate);
        let g = lock(&self.session);
        let Some(s) = g.as_ref() else {
            return Err(Error::DeviceBroken(format!("{}: the token is gone", self.name)));
        };
        match f(s) {
            Ok(v) => Ok(v),
            Err(fail) => {
                drop(g);
                if fail.fatal {
                    self.fault(&fail.error.to_string());
                }
                Err(fail.error)
            }
        }
    }

    /// Marks the device broken (once).
    fn fault(&self, reason: &str) {
        if !self.broken.swap(true, Ordering::SeqCst) {
            if let Some(h) = lock(&self.handle).clone() {
                h.mark_broken(reason);
            }
        }
    }

    /// Objects matching `uri` on this token (none when the token differs).
    fn find(&self, uri: &KeyUri, class: Option<ObjectClass>) -> Result<Vec<ObjectHandle>> {
        let t = &self.token;
        let differs = |want: &Option<String>, have: &str| want.as_deref().is_some_and(|w| w != have);
        if differs(&uri.token, &t.label)
            || differs(&uri.manufacturer, &t.manufacturer)
            || differs(&uri.model, &t.model)
            || differs(&uri.serial, &t.serial)
        {
            return Ok(Vec::new());
        }
        let mut template = uri.template();
        if let Some(c) = class {
            template.push(Attribute::Class(c));
        }
        self.session(|s| s.find_objects(&template).map_err(ck("C_FindObjects")))
    }

    /// The object of the class `step` needs that `uri` names, checked to
    /// be a key of the algorithm's type and size.
    fn find_key(&self, step: &Step, uri: &KeyUri) -> Result<ObjectHandle> {
        let alg = step.alg;
        let class = match (alg.kind(), step.op.needs_private_key()) {
            (OpKind::Asym, true) => ObjectClass::PRIVATE_KEY,
            (OpKind::Asym, false) => ObjectClass::PUBLIC_KEY,
            _ => ObjectClass::SECRET_KEY,
        };
        let found = self.find(uri, Some(class))?;
        let class_name = match class {
            ObjectClass::PRIVATE_KEY => "private key",
            ObjectClass::PUBLIC_KEY => "public key",
            _ => "secret key",
        };
        let Some(&object) = found.first() else {
            let other = self.find(uri, None)?;
            return Err(Error::InvalidKey(format!(
                "{alg} {:?}: token '{}' has no {class_name} with {}{}",
                step.op,
                self.token.label,
                uri.describe(),
                if other.is_empty() { "" } else { " (it has other objects of that name)" }
            )));
        };
        let want = match alg {
            Algorithm::Rsa { .. } => KeyType::RSA,
            Algorithm::Ecdsa(_) | Algorithm::EcdhP256 => KeyType::EC,
            Algorithm::Aes { .. } | Algorithm::AesGcm { .. } => KeyType::AES,
            _ => KeyType::GENERIC_SECRET,
        };
        let attrs = self.session(|s| {
            s.get_attributes(object, &[AttributeType::KeyType, AttributeType::Modulus, AttributeType::EcParams])
                .map_err(ck("C_GetAttributeValue"))
        })?;
        let mut kt = None;
        let mut modulus_bits = None;
        let mut params = None;
        for a in attrs {
            match a {
                Attribute::KeyType(k) => kt = Some(k),
                Attribute::Modulus(m) => modulus_bits = Some(be(&m).len() * 8),
                Attribute::EcParams(p) => params = Some(p),
                _ => {}
            }
        }
        let wrong =
            |what: String| Error::InvalidKey(format!("{alg}: the token object with {} is {what}", uri.describe()));
        if kt != Some(want) && !(want == KeyType::GENERIC_SECRET && kt.is_some()) {
            return Err(wrong(format!("a key of type {}", kt.map(|k| k.to_string()).unwrap_or_default())));
        }
        let curve = match alg {
            Algorithm::Ecdsa(c) => Some(c),
            Algorithm::EcdhP256 => Some(EcCurve::P256),
            _ => None,
        };
        if let (Algorithm::Rsa { bits, .. }, Some(b)) = (alg, modulus_bits) {
            if b != usize::from(bits) {
                return Err(wrong(format!("a {b}-bit RSA key")));
            }
        }
        if let (Some(c), Some(p)) = (curve, params.as_deref()) {
            if p != ec_params(c) {
                return Err(wrong("a key on another curve".into()));
            }
        }
        Ok(object)
    }

    /// The token object for `step`'s key on this device: found or imported
    /// the first time, then kept with the key.
    fn key_object(self: &Arc<Self>, step: &Step) -> Result<ObjectHandle> {
        let keys = step
            .key
            .schedule(|_| Ok::<_, Error>(TokenKeys::default()))?
            .ok_or_else(|| Error::Internal("pkcs11: the key keeps no room for a token object".into()))?;
        let mut objs = lock(&keys.objects);
        if let Some(k) = objs.iter().find(|k| k.device == self.uid && k.alg == step.alg && k.op == step.op) {
            return Ok(k.object);
        }
        let (object, imported) = match step.key.as_reference() {
            Some(r) => {
                let uri = KeyUri::parse(r)
                    .ok_or_else(|| Error::InvalidKey(format!("{}: not a pkcs11: URI with object= or id=", step.alg)))?;
                (self.find_key(step, &uri)?, false)
            }
            None => (self.import(step)?, true),
        };
        objs.push(TokenKey {
            device: self.uid,
            alg: step.alg,
            op: step.op,
            object,
            imported,
            owner: Arc::downgrade(self),
        });
        Ok(object)
    }

    /// Imports the step's key bytes as a sensitive session object.
    fn import(&self, step: &Step) -> Result<ObjectHandle> {
        let alg = step.alg;
        let op = step.op;
        let bytes = step.key.bytes();
        let base = |class: ObjectClass, kt: KeyType| {
            let mut t = vec![Attribute::Class(class), Attribute::KeyType(kt), Attribute::Token(false)];
            if class != ObjectClass::PUBLIC_KEY {
                t.extend([
                    Attribute::Sensitive(true),
                    Attribute::Extractable(false),
                    Attribute::Private(self.logged_in),
                ]);
            }
            t
        };
        let template: Vec<Attribute> = match alg.kind() {
            OpKind::Asym => match asym::parse_key(alg, op, bytes)? {
                AsymKey::RsaPrivate(k) if op.needs_private_key() => {
                    let mut t = base(ObjectClass::PRIVATE_KEY, KeyType::RSA);
                    let primes = k.primes();
                    if primes.len() != 2 {
                        return Err(Error::Unsupported(format!("{alg}: a multi-prime RSA key")));
                    }
                    t.extend([
                        Attribute::Modulus(be(&k.n().to_be_bytes())),
                        Attribute::PublicExponent(be(&k.e().to_be_bytes())),
                        Attribute::PrivateExponent(be(&k.d().to_be_bytes())),
                        Attribute::Prime1(be(&primes[0].to_be_bytes())),
                        Attribute::Prime2(be(&primes[1].to_be_bytes())),
                        Attribute::Sign(true),
                        Attribute::Decrypt(true),
                    ]);
                    if let (Some(dp), Some(dq), Some(qinv)) = (k.dp(), k.dq(), k.qinv()) {
                        t.extend([
                            Attribute::Exponent1(be(&dp.to_be_bytes())),
                            Attribute::Exponent2(be(&dq.to_be_bytes())),
                            Attribute::Coefficient(be(&qinv.retrieve().to_be_bytes())),
                        ]);
                    }
                    t
                }
                AsymKey::RsaPrivate(k) => {
                    let public: &rsa::PublicKey = (*k).as_ref();
                    rsa_public_template(base(ObjectClass::PUBLIC_KEY, KeyType::RSA), public)
                }
                AsymKey::RsaPublic(k) => rsa_public_template(base(ObjectClass::PUBLIC_KEY, KeyType::RSA), k.as_ref()),
                AsymKey::P256Private(k) if op.needs_private_key() => {
                    let mut t = base(ObjectClass::PRIVATE_KEY, KeyType::EC);
                    t.extend([
                        Attribute::EcParams(ec_params(EcCurve::P256)),
                        Attribute::Value(k.to_bytes().to_vec()),
                        Attribute::Sign(true),
                        Attribute::Derive(true),
                    ]);
                    t
                }
                AsymKey::P256Private(k) => {
                    let point = k.verifying_key().to_sec1_point(false);
                    ec_public_template(base(ObjectClass::PUBLIC_KEY, KeyType::EC), EcCurve::P256, point.as_bytes())?
                }
                AsymKey::P256Public(k) => {
                    let point = k.to_sec1_point(false);
                    ec_public_template(base(ObjectClass::PUBLIC_KEY, KeyType::EC), EcCurve::P256, point.as_bytes())?
                }
                AsymKey::P384Private(k) if op.needs_private_key() => {
                    let mut t = base(ObjectClass::PRIVATE_KEY, KeyType::EC);
                    t.extend([
                        Attribute::EcParams(ec_params(EcCurve::P384)),
                        Attribute::Value(k.to_bytes().to_vec()),
                        Attribute::Sign(true),
                    ]);
                    t
                }
                AsymKey::P384Private(k) => {
                    let point = k.verifying_key().to_sec1_point(false);
                    ec_public_template(base(ObjectClass::PUBLIC_KEY, KeyType::EC), EcCurve::P384, point.as_bytes())?
                }
                AsymKey::P384Public(k) => {
                    let point = k.to_sec1_point(false);
                    ec_public_template(base(ObjectClass::PUBLIC_KEY, KeyType::EC), EcCurve::P384, point.as_bytes())?
                }
                AsymKey::X25519(_) => return Err(Error::Unsupported(format!("{alg} on a pkcs11 token"))),
            },
            OpKind::Cipher | OpKind::Aead => {
                alg.check_key(bytes)?;
                let mut t = base(ObjectClass::SECRET_KEY, KeyType::AES);
                t.extend([Attribute::Value(bytes.to_vec()), Attribute::Encrypt(true), Attribute::Decrypt(true)]);
                t
            }
            OpKind::Mac => {
                let mut t = base(ObjectClass::SECRET_KEY, KeyType::GENERIC_SECRET);
                t.extend([Attribute::Value(bytes.to_vec()), Attribute::Sign(true), Attribute::Verify(true)]);
                t
            }
            _ => return Err(Error::InvalidArgument(format!("{alg} takes no key"))),
        };
        let mut template = template;
        let r = self.session(|s| s.create_object(&template).map_err(ck("C_CreateObject")));
        wipe(&mut template);
        r
    }
}

/// Wipes the key values of an import template.
fn wipe(t: &mut [Attribute]) {
    use zeroize::Zeroize;
    for a in t.iter_mut() {
        match a {
            Attribute::Value(v)
            | Attribute::PrivateExponent(v)
            | Attribute::Prime1(v)
            | Attribute::Prime2(v)
            | Attribute::Exponent1(v)
            | Attribute::Exponent2(v)
            | Attribute::Coefficient(v) => v.zeroize(),
            _ => {}
        }
    }
}

fn rsa_public_template(mut t: Vec<Attribute>, k: &rsa::PublicKey) -> Vec<Attribute> {
    t.extend([
        Attribute::Modulus(be(&k.n().to_be_bytes())),
        Attribute::PublicExponent(be(&k.e().to_be_bytes())),
        Attribute::Verify(true),
        Attribute::Encrypt(true),
    ]);
    t
}

fn ec_public_template(mut t: Vec<Attribute>, curve: EcCurve, sec1: &[u8]) -> Result<Vec<Attribute>> {
    t.extend([Attribute::EcParams(ec_params(curve)), Attribute::EcPoint(ec_point(sec1)?), Attribute::Verify(true)]);
    Ok(t)
}

fn pss() -> Mechanism<'static> {
    Mechanism::RsaPkcsPss(PkcsPssParams {
        hash_alg: MechanismType::SHA256,
        mgf: PkcsMgfType::MGF1_SHA256,
        s_len: (DIGEST_LEN as u64).into(),
    })
}

fn oaep() -> Mechanism<'static> {
    Mechanism::RsaPkcsOaep(PkcsOaepParams::new(
        MechanismType::SHA256,
        PkcsMgfType::MGF1_SHA256,
        PkcsOaepSource::empty(),
    ))
}

/// PKCS#1 v1.5's DigestInfo of a SHA-256 digest (the `rsa` crate's prefix).
fn digest_info(hash: &[u8]) -> Vec<u8> {
    let p = rsa::Pkcs1v15Sign::new::<rsa::sha2::Sha256>();
    let mut v = p.prefix.to_vec();
    v.extend_from_slice(hash);
    v
}

/// Runs one step on the worker's session.
fn run_step(dev: &Arc<Shared>, s: &CkSession, step: &Step, req: &mut Request) -> std::result::Result<(), Failure> {
    let alg = step.alg;
    if !step.op.fits(alg) {
        return Err(Failure::request(Error::InvalidArgument(format!("{:?} does not apply to {alg}", step.op))));
    }
    if alg == Algorithm::Rng {
        return s.generate_random_slice(req.current_mut()).map_err(ck("C_GenerateRandom"));
    }
    if let Algorithm::Digest(d) = alg {
        let m = if d == DigestKind::Sha1 { Mechanism::Sha1 } else { Mechanism::Sha256 };
        let out = s.digest(&m, req.current()).map_err(ck("C_Digest"))?;
        req.tag.clear();
        req.tag.extend_from_slice(&out);
        return Ok(());
    }
    if step.key.as_reference().is_none() {
        alg.check_key(step.key.bytes())?;
    }
    let key = dev.key_object(step).map_err(|e| Failure { fatal: matches!(e, Error::DeviceBroken(_)), error: e })?;
    match alg {
        Algorithm::Aes { mode, .. } => {
            alg.check_iv(&req.iv)?;
            alg.check_data_len(req.current().len())?;
            let m = match mode {
                CipherMode::Ecb => Mechanism::AesEcb,
                CipherMode::Cbc => {
                    let mut iv = [0u8; 16];
                    iv.copy_from_slice(&req.iv);
                    Mechanism::AesCbc(iv)
                }
                _ => return Err(Failure::request(Error::Unsupported(format!("{alg} on a pkcs11 token")))),
            };
            let out = if step.op == Op::Encrypt {
                s.encrypt(&m, key, req.current()).map_err(ck("C_Encrypt"))?
            } else {
                s.decrypt(&m, key, req.current()).map_err(ck("C_Decrypt"))?
            };
            let out = Zeroizing::new(out);
            replace(req, &out);
            Ok(())
        }
        Algorithm::AesGcm { .. } => gcm(s, key, step, req),
        Algorithm::Hmac(_) => {
            if step.op == Op::Verify {
                let n = req.tag.len();
                if !(MIN_VERIFY_TAG..=alg.digest_len()).contains(&n) {
                    return Err(Failure::request(Error::InvalidLength(format!(
                        "{alg} verify takes a tag of {MIN_VERIFY_TAG} to {} bytes, got {n}",
                        alg.digest_len()
                    ))));
                }
            }
            if !req.aad.is_empty() {
                return Err(Failure::request(Error::Unsupported(format!("{alg} over AAD on a pkcs11 token"))));
            }
            let m = if alg == Algorithm::Hmac(DigestKind::Sha1) { Mechanism::Sha1Hmac } else { Mechanism::Sha256Hmac };
            let full = Zeroizing::new(s.sign(&m, key, req.current()).map_err(ck("C_Sign"))?);
            match step.op {
                Op::Digest => {
                    req.tag.clear();
                    req.tag.extend_from_slice(&full);
                    Ok(())
                }
                _ => {
                    let n = req.tag.len();
                    if bool::from(full[..n].ct_eq(&req.tag)) {
                        Ok(())
                    } else {
                        Err(Failure::request(Error::VerifyFailed))
                    }
                }
            }
        }
        Algorithm::Rsa { padding, .. } => rsa_step(s, key, step, padding, req),
        Algorithm::Ecdsa(curve) => ecdsa_step(s, key, step, curve, req),
        Algorithm::EcdhP256 => ecdh(s, key, req),
        _ => Err(Failure::request(Error::Unsupported(format!("{alg} on a pkcs11 token")))),
    }
}

fn replace(req: &mut Request, value: &[u8]) {
    let buf = req.current_mut();
    buf.clear();
    buf.extend_from_slice(value);
}

fn gcm(s: &CkSession, key: ObjectHandle, step: &Step, req: &mut Request) -> std::result::Result<(), Failure> {
    let alg = step.alg;
    alg.check_iv(&req.iv)?;
    alg.check_tag(step.op, &req.tag)?;
    let mut iv = req.iv.clone();
    let tag_len = if step.op == Op::Encrypt { 16 } else { req.tag.len() };
    let params = GcmParams::new(&mut iv, &req.aad, ((tag_len * 8) as u64).into())
        .map_err(|e| Failure::request(Error::InvalidArgument(format!("{alg}: {e}"))))?;
    let m = Mechanism::AesGcm(params);
    if step.op == Op::Encrypt {
        let mut out = Zeroizing::new(s.encrypt(&m, key, req.current()).map_err(ck("C_Encrypt"))?);
        let n = out.len().saturating_sub(tag_len);
        req.tag.clear();
        req.tag.extend_from_slice(&out[n..]);
        out.truncate(n);
        replace(req, &out);
        Ok(())
    } else {
        let mut input = req.current().to_vec();
        input.extend_from_slice(&req.tag);
        match s.decrypt(&m, key, &input) {
            Ok(pt) => {
                let pt = Zeroizing::new(pt);
                replace(req, &pt);
                Ok(())
            }
            Err(CkError::Pkcs11(RvError::EncryptedDataInvalid, _)) => Err(Failure::request(Error::VerifyFailed)),
            Err(e) => Err(ck("C_Decrypt")(e)),
        }
    }
}

fn rsa_step(
    s: &CkSession,
    key: ObjectHandle,
    step: &Step,
    padding: RsaPadding,
    req: &mut Request,
) -> std::result::Result<(), Failure> {
    let alg = step.alg;
    match step.op {
        Op::Sign | Op::Verify => {
            let hash = asym::digest_of(req)?;
            let (m, data) = match padding {
                RsaPadding::Pkcs1 => (Mechanism::RsaPkcs, digest_info(&hash)),
                RsaPadding::Pss => (pss(), hash.to_vec()),
                RsaPadding::Oaep => {
                    return Err(Failure::request(Error::InvalidArgument(format!("{alg} does not sign"))))
                }
            };
            if step.op == Op::Sign {
                let sig = s.sign(&m, key, &data).map_err(ck("C_Sign"))?;
                req.tag = sig;
                Ok(())
            } else {
                s.verify(&m, key, &data, &req.tag).map_err(ck("C_Verify"))
            }
        }
        Op::Encrypt | Op::Decrypt => {
            let m = match padding {
                RsaPadding::Pkcs1 => Mechanism::RsaPkcs,
                RsaPadding::Oaep => oaep(),
                RsaPadding::Pss => {
                    return Err(Failure::request(Error::InvalidArgument(format!("{alg} does not encrypt"))))
                }
            };
            let out = if step.op == Op::Encrypt {
                Zeroizing::new(s.encrypt(&m, key, req.current()).map_err(ck("C_Encrypt"))?)
            } else {
                Zeroizing::new(s.decrypt(&m, key, req.current()).map_err(ck("C_Decrypt"))?)
            };
            replace(req, &out);
            Ok(())
        }
        op => Err(Failure::request(Error::InvalidArgument(format!("{op:?} does not apply to {alg}")))),
    }
}

fn ecdsa_step(
    s: &CkSession,
    key: ObjectHandle,
    step: &Step,
    curve: EcCurve,
    req: &mut Request,
) -> std::result::Result<(), Failure> {
    let hash = asym::digest_of(req)?;
    let bad =
        |e: &dyn std::fmt::Display| Failure::request(Error::DeviceFailure(format!("pkcs11 ECDSA signature: {e}")));
    match step.op {
        Op::Sign => {
            let raw = s.sign(&Mechanism::Ecdsa, key, &hash).map_err(ck("C_Sign"))?;
            let der = match curve {
                EcCurve::P256 => {
                    p256::ecdsa::Signature::from_slice(&raw).map_err(|e| bad(&e))?.to_der().as_bytes().to_vec()
                }
                EcCurve::P384 => {
                    p384::ecdsa::Signature::from_slice(&raw).map_err(|e| bad(&e))?.to_der().as_bytes().to_vec()
                }
            };
            req.tag = der;
            Ok(())
        }
        Op::Verify => {
            // A signature that is not DER fails to verify, as on soft.
            let raw = match curve {
                EcCurve::P256 => p256::ecdsa::Signature::from_der(&req.tag).map(|s| s.to_bytes().to_vec()),
                EcCurve::P384 => p384::ecdsa::Signature::from_der(&req.tag).map(|s| s.to_bytes().to_vec()),
            }
            .map_err(|_| Failure::request(Error::VerifyFailed))?;
            s.verify(&Mechanism::Ecdsa, key, &hash, &raw).map_err(ck("C_Verify"))
        }
        op => Err(Failure::request(Error::InvalidArgument(format!("{op:?} does not apply to {}", step.alg)))),
    }
}

fn ecdh(s: &CkSession, key: ObjectHandle, req: &mut Request) -> std::result::Result<(), Failure> {
    use p256::elliptic_curve::sec1::ToSec1Point;
    use spki::DecodePublicKey;
    let peer = p256::PublicKey::from_public_key_der(req.current()).map_err(|e| {
        Failure::request(Error::InvalidArgument(format!(
            "ecdh-p256: the peer key is not a public key of this algorithm: {e}"
        )))
    })?;
    let point = peer.to_sec1_point(false);
    let params = Ecdh1DeriveParams::new(EcKdf::null(), point.as_bytes());
    let template = [
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::GENERIC_SECRET),
        Attribute::ValueLen(32u64.into()),
        Attribute::Token(false),
        Attribute::Sensitive(false),
        Attribute::Extractable(true),
    ];
    let secret = s.derive_key(&Mechanism::Ecdh1Derive(params), key, &template).map_err(ck("C_DeriveKey"))?;
    let value = s.get_attributes(secret, &[AttributeType::Value]).map_err(ck("C_GetAttributeValue"));
    let _ = s.destroy_object(secret);
    for a in value? {
        if let Attribute::Value(v) = a {
            let v = Zeroizing::new(v);
            replace(req, &v);
            return Ok(());
        }
    }
    Err(Failure::request(Error::DeviceFailure("pkcs11 ECDH: the token gave no secret".into())))
}

impl Driver for Pkcs11Device {
    fn name(&self) -> &str {
        &self.shared.name
    }
    fn driver(&self) -> &str {
        "pkcs11"
    }
    fn capabilities(&self) -> Vec<Capability> {
        self.shared.caps.iter().map(|&a| Capability::new(a, QUEUE_LEN)).collect()
    }
    fn class(&self) -> DeviceClass {
        DeviceClass::Accelerator
    }
    fn detail(&self) -> Option<String> {
        let t = &self.shared.token;
        Some(format!(
            "token '{}', {} {}{}",
            t.label,
            t.manufacturer,
            t.model,
            if self.shared.logged_in { ", logged in" } else { ", public objects only" }
        ))
    }
    fn attach(&self, dev: DeviceHandle) {
        *lock(&self.shared.handle) = Some(dev.clone());
        let session = match lock(&self.shared.module).as_ref().map(|m| m.open_rw_session(self.shared.slot)) {
            Some(Ok(s)) => s,
            Some(Err(e)) => {
                self.shared.broken.store(true, Ordering::SeqCst);
                dev.mark_broken(&format!("pkcs11: C_OpenSession for the worker: {e}"));
                return;
            }
            None => {
                self.shared.broken.store(true, Ordering::SeqCst);
                dev.mark_broken("pkcs11: the module was finalised");
                return;
            }
        };
        let shared = self.shared.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("acrypto-{}", self.shared.name))
            .spawn(move || worker(&shared, &dev, session));
        match spawned {
            Ok(t) => *lock(&self.shared.thread) = Some(t),
            Err(e) => {
                if let Some(h) = lock(&self.shared.handle).as_ref() {
                    h.mark_broken(&format!("cannot start worker thread: {e}"));
                }
            }
        }
    }
    fn data_ready(&self) {
        self.shared.wake.signal();
    }
    fn holds(&self, reference: &str) -> bool {
        if self.shared.broken.load(Ordering::SeqCst) {
            return false;
        }
        KeyUri::parse(reference).is_some_and(|uri| self.shared.find(&uri, None).is_ok_and(|v| !v.is_empty()))
    }
    fn prepare(&self, step: &Step) -> Result<()> {
        if step.alg.kind() == OpKind::Asym && step.key.as_reference().is_none() {
            // The same errors as the software device's for a bad key.
            asym::parse_key(step.alg, step.op, step.key.bytes())?;
        }
        if step.key.as_reference().is_some() {
            self.shared.key_object(step)?;
        }
        Ok(())
    }
    fn detach(&self) {
        self.shared.wake.stop();
        if let Some(t) = lock(&self.shared.thread).take() {
            if t.thread().id() != std::thread::current().id() {
                let _ = t.join();
            }
        }
        lock(&self.shared.handle).take();
    }
}

fn worker(shared: &Arc<Shared>, dev: &DeviceHandle, session: CkSession) {
    let mut batch = Vec::with_capacity(BATCH);
    loop {
        if dev.dequeue_into(BATCH, &mut batch) == 0 {
            if !shared.wake.wait() {
                break;
            }
            continue;
        }
        shared.wake.clear();
        for mut w in batch.drain(..) {
            if shared.broken.load(Ordering::SeqCst) {
                w.complete(Err(Error::DeviceBroken(format!("{}: the token is gone", shared.name))));
                continue;
            }
            let _in = enter(&shared.gate);
            let (steps, req) = w.parts();
            let mut status = Ok(());
            for st in steps {
                if let Err(f) = run_step(shared, &session, st, req) {
                    if f.fatal {
                        shared.fault(&f.error.to_string());
                    }
                    status = Err(f.error);
                    break;
                }
            }
            drop(_in);
            w.complete(status);
        }
    }
    // The session closes here (its objects go with it).
    let _in = enter(&shared.gate);
    drop(session);
}

/// Algorithms a pkcs11 device may offer (those whose mechanism it looks for).
pub fn candidate_algorithms() -> impl Iterator<Item = Algorithm> {
    Algorithm::all().filter(|&a| a == Algorithm::Rng || mechanism_of(a).is_some())
}

/// A key of `step` is kept in this module's objects (for tests).
pub fn key_is_on_token(key: &Key) -> bool {
    key.schedule(|_| Err::<TokenKeys, ()>(())).ok().flatten().is_some_and(|k| !lock(&k.objects).is_empty())
}
