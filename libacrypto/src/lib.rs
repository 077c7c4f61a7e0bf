//! Packaging of libacrypto for C users; arrives with the C ABI issue.
