//! acrypto
