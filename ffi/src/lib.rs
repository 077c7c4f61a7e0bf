//! The C ABI of acrypto; arrives with the C ABI issue.
