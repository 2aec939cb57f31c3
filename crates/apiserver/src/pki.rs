//! First-start certificates (rcgen, ECDSA P-256): a cluster CA, the API server's serving
//! certificate (SANs: localhost, 127.0.0.1, ::1, the hostname, plus any extra names) and
//! the admin client certificate (CN `admin`, O `system:masters`), kept in `DIR/pki/`
//! (keys mode 0600) and reused on later starts. A missing leaf is re-issued by the stored
//! CA; a missing CA re-issues everything.

use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

/// A certificate failure.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    #[error("cannot read or write {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot create a certificate: {0}")]
    Certificate(#[from] rcgen::Error),
}

/// PEM-encoded certificates and keys.
#[derive(Clone, Debug)]
pub struct Pki {
    pub ca_cert_pem: String,
    pub ca_key_pem: String,
    pub serving_cert_pem: String,
    pub serving_key_pem: String,
    pub admin_cert_pem: String,
    pub admin_key_pem: String,
}

const CA_CERT: &str = "ca.crt";
const CA_KEY: &str = "ca.key";
const SERVING_CERT: &str = "apiserver.crt";
const SERVING_KEY: &str = "apiserver.key";
const ADMIN_CERT: &str = "admin.crt";
const ADMIN_KEY: &str = "admin.key";
/// Validity of every certificate, in years.
const VALIDITY_YEARS: i16 = 10;

fn validity(params: &mut CertificateParams) {
    let today = jiff::Zoned::now().date();
    let start = today.yesterday().unwrap_or(today);
    let end_year = today.year().saturating_add(VALIDITY_YEARS);
    params.not_before = rcgen::date_time_ymd(
        i32::from(start.year()),
        start.month() as u8,
        start.day() as u8,
    );
    params.not_after = rcgen::date_time_ymd(
        i32::from(end_year),
        today.month() as u8,
        today.day().min(28) as u8,
    );
}

/// The CA's parameters; deterministic, so an issuer can be rebuilt from the stored key.
fn ca_params() -> Result<CertificateParams, rcgen::Error> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params
        .distinguished_name
        .push(DnType::CommonName, "corral-ca");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::CrlSign,
    ];
    validity(&mut params);
    Ok(params)
}

/// The names the serving certificate covers.
pub fn serving_names(extra: &[String]) -> Vec<String> {
    let mut names: Vec<String> = vec!["localhost".into(), "127.0.0.1".into(), "::1".into()];
    if let Some(host) = hostname() {
        names.push(host);
    }
    for name in extra {
        if !name.is_empty() && !names.contains(name) {
            names.push(name.clone());
        }
    }
    names
}

/// The machine's hostname (Linux).
pub fn hostname() -> Option<String> {
    fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
}

fn issue(
    issuer: &Issuer<'_, KeyPair>,
    common_name: &str,
    organization: Option<&str>,
    names: Vec<String>,
    usage: ExtendedKeyUsagePurpose,
) -> Result<(String, String), rcgen::Error> {
    let mut params = CertificateParams::new(names)?;
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    if let Some(organization) = organization {
        params
            .distinguished_name
            .push(DnType::OrganizationName, organization);
    }
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![usage];
    params.use_authority_key_identifier_extension = true;
    validity(&mut params);
    let key = KeyPair::generate()?;
    let certificate = params.signed_by(&key, issuer)?;
    Ok((certificate.pem(), key.serialize_pem()))
}

impl Pki {
    /// A fresh CA and leaves.
    pub fn generate(serving_names: &[String]) -> Result<Pki, PkiError> {
        let ca_key = KeyPair::generate()?;
        let params = ca_params()?;
        let ca_cert = params.self_signed(&ca_key)?;
        let ca_key_pem = ca_key.serialize_pem();
        let issuer = Issuer::new(params, ca_key);
        Self::with_ca(&issuer, ca_cert.pem(), ca_key_pem, serving_names)
    }

    fn with_ca(
        issuer: &Issuer<'_, KeyPair>,
        ca_cert_pem: String,
        ca_key_pem: String,
        names: &[String],
    ) -> Result<Pki, PkiError> {
        let (serving_cert_pem, serving_key_pem) = issue(
            issuer,
            "corral-apiserver",
            None,
            names.to_vec(),
            ExtendedKeyUsagePurpose::ServerAuth,
        )?;
        let (admin_cert_pem, admin_key_pem) = issue(
            issuer,
            "admin",
            Some("system:masters"),
            Vec::new(),
            ExtendedKeyUsagePurpose::ClientAuth,
        )?;
        Ok(Pki {
            ca_cert_pem,
            ca_key_pem,
            serving_cert_pem,
            serving_key_pem,
            admin_cert_pem,
            admin_key_pem,
        })
    }

    /// Loads `dir/pki`, creating what is missing.
    pub fn load_or_create(dir: &Path, serving_names: &[String]) -> Result<Pki, PkiError> {
        let pki_dir = dir.join("pki");
        fs::create_dir_all(&pki_dir).map_err(|source| PkiError::Io {
            path: pki_dir.clone(),
            source,
        })?;
        let read = |name: &str| fs::read_to_string(pki_dir.join(name)).ok();
        let all = [
            CA_CERT,
            CA_KEY,
            SERVING_CERT,
            SERVING_KEY,
            ADMIN_CERT,
            ADMIN_KEY,
        ]
        .map(read);
        if let [
            Some(ca),
            Some(ca_key),
            Some(cert),
            Some(key),
            Some(admin),
            Some(admin_key),
        ] = all
        {
            return Ok(Pki {
                ca_cert_pem: ca,
                ca_key_pem: ca_key,
                serving_cert_pem: cert,
                serving_key_pem: key,
                admin_cert_pem: admin,
                admin_key_pem: admin_key,
            });
        }
        let pki = match (
            read(CA_CERT),
            read(CA_KEY).and_then(|k| KeyPair::from_pem(&k).ok()),
        ) {
            (Some(ca_cert), Some(ca_key)) => {
                let ca_key_pem = ca_key.serialize_pem();
                let issuer = Issuer::new(ca_params()?, ca_key);
                Self::with_ca(&issuer, ca_cert, ca_key_pem, serving_names)?
            }
            _ => Self::generate(serving_names)?,
        };
        pki.save(&pki_dir)?;
        tracing::info!(dir = %pki_dir.display(), "generated certificates");
        Ok(pki)
    }

    /// The CA as an issuer (from the stored key).
    fn issuer(&self) -> Result<Issuer<'static, KeyPair>, PkiError> {
        let key = KeyPair::from_pem(&self.ca_key_pem)?;
        Ok(Issuer::new(ca_params()?, key))
    }

    /// A client certificate for `user`, optionally in `group` (CN and O, as the x509
    /// authenticator reads them), signed by the cluster CA: `(certificate PEM, key PEM)`.
    /// One group at most: rcgen keeps one value per attribute type.
    pub fn issue_client(
        &self,
        user: &str,
        group: Option<&str>,
    ) -> Result<(String, String), PkiError> {
        let issuer = self.issuer()?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.distinguished_name.push(DnType::CommonName, user);
        if let Some(group) = group.filter(|g| !g.is_empty()) {
            params
                .distinguished_name
                .push(DnType::OrganizationName, group);
        }
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.use_authority_key_identifier_extension = true;
        validity(&mut params);
        let key = KeyPair::generate()?;
        let certificate = params.signed_by(&key, &issuer)?;
        Ok((certificate.pem(), key.serialize_pem()))
    }

    /// `corral certs rotate`: new serving and admin certificates (and keys) from the
    /// stored CA, saved in `DIR/pki`. A running server picks the serving one up (it
    /// watches the file); the CA stays, so existing kubeconfigs keep verifying it.
    pub fn rotate(dir: &Path, serving_names: &[String]) -> Result<Pki, PkiError> {
        let current = Self::load_or_create(dir, serving_names)?;
        let issuer = current.issuer()?;
        let pki = Self::with_ca(
            &issuer,
            current.ca_cert_pem.clone(),
            current.ca_key_pem.clone(),
            serving_names,
        )?;
        pki.save(&dir.join("pki"))?;
        tracing::info!(dir = %dir.join("pki").display(), "rotated the serving and admin certificates");
        Ok(pki)
    }

    /// Rotates the leaves when one expires within `margin` (at start: renewal before
    /// expiry). Returns whether it rotated.
    pub fn renew_if_expiring(
        dir: &Path,
        serving_names: &[String],
        margin: std::time::Duration,
    ) -> Result<(Pki, bool), PkiError> {
        let pki = Self::load_or_create(dir, serving_names)?;
        let deadline = jiff::Timestamp::now().as_second()
            + i64::try_from(margin.as_secs()).unwrap_or(i64::MAX / 2);
        let expiring = [&pki.serving_cert_pem, &pki.admin_cert_pem]
            .iter()
            .any(|pem| not_after(pem).is_none_or(|end| end <= deadline));
        if !expiring {
            return Ok((pki, false));
        }
        Ok((Self::rotate(dir, serving_names)?, true))
    }

    fn save(&self, dir: &Path) -> Result<(), PkiError> {
        write_file(&dir.join(CA_CERT), &self.ca_cert_pem, 0o644)?;
        write_file(&dir.join(CA_KEY), &self.ca_key_pem, 0o600)?;
        write_file(&dir.join(SERVING_CERT), &self.serving_cert_pem, 0o644)?;
        write_file(&dir.join(SERVING_KEY), &self.serving_key_pem, 0o600)?;
        write_file(&dir.join(ADMIN_CERT), &self.admin_cert_pem, 0o644)?;
        write_file(&dir.join(ADMIN_KEY), &self.admin_key_pem, 0o600)
    }
}

/// Renew certificates expiring within this margin at start.
pub const RENEW_MARGIN: std::time::Duration = std::time::Duration::from_secs(30 * 24 * 3600);

/// The serving certificate's path under the data directory.
pub fn serving_cert_path(data_dir: &Path) -> PathBuf {
    data_dir.join("pki").join(SERVING_CERT)
}

/// The serving key's path under the data directory.
pub fn serving_key_path(data_dir: &Path) -> PathBuf {
    data_dir.join("pki").join(SERVING_KEY)
}

/// A PEM certificate's `notAfter` (Unix seconds).
pub fn not_after(pem: &str) -> Option<i64> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    use x509_parser::prelude::{FromDer, X509Certificate};
    let der = CertificateDer::from_pem_slice(pem.as_bytes()).ok()?;
    let (_, certificate) = X509Certificate::from_der(der.as_ref()).ok()?;
    Some(certificate.validity().not_after.timestamp())
}

/// Writes `contents` to `path` with `mode` (created with it, so keys are never readable by
/// others, even briefly).
pub fn write_file(path: &Path, contents: &str, mode: u32) -> Result<(), PkiError> {
    let io = |source| PkiError::Io {
        path: path.to_path_buf(),
        source,
    };
    let temporary = path.with_extension("tmp");
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(&temporary)
        .map_err(io)?;
    file.write_all(contents.as_bytes()).map_err(io)?;
    file.sync_all().map_err(io)?;
    fs::rename(&temporary, path).map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::auth::identity_from_certificate;
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;

    #[test]
    fn the_admin_certificate_names_admin_in_system_masters() {
        let pki = Pki::generate(&serving_names(&[])).unwrap();
        let der = CertificateDer::from_pem_slice(pki.admin_cert_pem.as_bytes()).unwrap();
        let user = identity_from_certificate(der.as_ref()).unwrap();
        assert_eq!(user.name, "admin");
        assert_eq!(user.groups, vec!["system:masters"]);
    }

    #[test]
    fn certificates_are_created_once_and_keys_are_private() {
        let dir = tempfile::tempdir().unwrap();
        let first = Pki::load_or_create(dir.path(), &serving_names(&[])).unwrap();
        let second = Pki::load_or_create(dir.path(), &serving_names(&[])).unwrap();
        assert_eq!(first.ca_cert_pem, second.ca_cert_pem);
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(dir.path().join("pki").join(ADMIN_KEY))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        fs::remove_file(dir.path().join("pki").join(SERVING_CERT)).unwrap();
        let third = Pki::load_or_create(dir.path(), &serving_names(&[])).unwrap();
        assert_eq!(third.ca_cert_pem, first.ca_cert_pem);
        assert_ne!(third.serving_cert_pem, first.serving_cert_pem);
    }
}

#[cfg(test)]
mod rotation_tests {
    use super::*;
    use crate::http::auth::identity_from_certificate;
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;

    #[test]
    fn user_certificates_carry_the_user_and_group() {
        let pki = Pki::generate(&serving_names(&[])).unwrap();
        let (cert, _key) = pki.issue_client("alice", Some("dev")).unwrap();
        let der = CertificateDer::from_pem_slice(cert.as_bytes()).unwrap();
        let user = identity_from_certificate(der.as_ref()).unwrap();
        assert_eq!(user.name, "alice");
        assert_eq!(user.groups, vec!["dev"]);
    }

    #[test]
    fn rotation_keeps_the_ca_and_replaces_the_leaves() {
        let dir = tempfile::tempdir().unwrap();
        let names = serving_names(&[]);
        let first = Pki::load_or_create(dir.path(), &names).unwrap();
        let (unchanged, rotated) =
            Pki::renew_if_expiring(dir.path(), &names, RENEW_MARGIN).unwrap();
        assert!(!rotated, "ten-year certificates are not renewed");
        assert_eq!(unchanged.serving_cert_pem, first.serving_cert_pem);
        let second = Pki::rotate(dir.path(), &names).unwrap();
        assert_eq!(second.ca_cert_pem, first.ca_cert_pem);
        assert_ne!(second.serving_cert_pem, first.serving_cert_pem);
        assert_ne!(second.admin_key_pem, first.admin_key_pem);
        let reloaded = Pki::load_or_create(dir.path(), &names).unwrap();
        assert_eq!(reloaded.serving_cert_pem, second.serving_cert_pem);
        // A margin longer than the validity renews.
        let (_, renewed) = Pki::renew_if_expiring(
            dir.path(),
            &names,
            std::time::Duration::from_secs(20 * 365 * 24 * 3600),
        )
        .unwrap();
        assert!(renewed);
        assert!(not_after(&second.serving_cert_pem).unwrap() > jiff::Timestamp::now().as_second());
    }
}
