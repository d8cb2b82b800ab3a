//! Certificates made at test time with `rcgen`: a private CA and a server
//! certificate it signed for `localhost` and 127.0.0.1, written as PEM files
//! in a temporary directory.

#![allow(dead_code, unreachable_pub, missing_debug_implementations)]

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use std::path::PathBuf;

/// A CA and a server certificate it signed, as PEM files.
pub struct Pki {
    /// The CA certificate (PEM), what a client trusts.
    pub ca_pem: String,
    /// The CA certificate's file.
    pub ca: PathBuf,
    /// The server's certificate chain (leaf, then the CA).
    pub cert: PathBuf,
    /// The server's private key (PKCS#8 PEM).
    pub key: PathBuf,
    dir: tempfile::TempDir,
}

impl Pki {
    /// A fresh CA named `ca_name` and a server certificate for `localhost`
    /// and 127.0.0.1.
    pub fn new(ca_name: &str) -> Self {
        let ca_key = KeyPair::generate().expect("CA key");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        ca_params.distinguished_name.push(DnType::CommonName, ca_name);
        let ca = CertifiedIssuer::self_signed(ca_params, ca_key).expect("CA certificate");

        let key = KeyPair::generate().expect("server key");
        let mut params =
            CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
                .expect("server params");
        params.distinguished_name.push(DnType::CommonName, "localhost");
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let cert = params.signed_by(&key, &ca).expect("server certificate");

        let dir = tempfile::tempdir().expect("tempdir");
        let write = |name: &str, text: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, text).expect("write PEM");
            path
        };
        let ca_pem = ca.pem();
        Self {
            ca: write("ca.pem", &ca_pem),
            cert: write("cert.pem", &format!("{}{}", cert.pem(), ca_pem)),
            key: write("key.pem", &key.serialize_pem()),
            ca_pem,
            dir,
        }
    }
}
