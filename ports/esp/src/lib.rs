//! acrypto-esp: the IPsec ESP port (DESIGN.md §7a).
//!
//! A tunnel-mode ESP endpoint (RFC 4303) in user space whose per-packet crypto
//! runs through the acrypto engine in batches, interoperating with Linux xfrm.
