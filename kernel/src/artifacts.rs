//! Artifacts: result payloads too large to inline (per-shot memory of big
//! jobs, statevectors), kept as files under `<data_dir>/artifacts/<job>/`
//! and referenced from results as `artifact://<job_id>/<kind>`.

use crate::gateway::ArtifactRef;
use crate::job::JobId;
use sha2::{Digest, Sha256};
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// The artifact files of every job.
#[derive(Debug, Clone)]
pub struct ArtifactStore {
    root: PathBuf,
}

fn valid_part(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

impl ArtifactStore {
    /// Artifacts under `data_dir/artifacts`.
    #[must_use]
    pub fn new(data_dir: &Path) -> Self {
        Self { root: data_dir.join("artifacts") }
    }

    fn path(&self, job: &JobId, kind: &str) -> Option<PathBuf> {
        (valid_part(&job.0) && valid_part(kind))
            .then(|| self.root.join(&job.0).join(format!("{kind}.json")))
    }

    /// Stores `bytes` as the job's `kind` artifact, durably (written to a
    /// temporary file, synced, renamed), and returns its reference.
    pub fn put(&self, job: &JobId, kind: &str, bytes: &[u8]) -> std::io::Result<ArtifactRef> {
        let path = self.path(job, kind).ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "bad artifact name")
        })?;
        let dir = path.parent().unwrap_or(&self.root);
        std::fs::create_dir_all(dir)?;
        let tmp = path.with_extension("tmp");
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, &path)?;
        Ok(ArtifactRef {
            kind: kind.to_string(),
            uri: format!("artifact://{}/{kind}", job.0),
            size_bytes: bytes.len() as u64,
            sha256: hex::encode(Sha256::digest(bytes)),
        })
    }

    /// The job a reference belongs to and its content, or `None` when the
    /// reference is malformed or the artifact is gone.
    pub fn read(&self, uri: &str) -> Option<(JobId, Vec<u8>)> {
        let rest = uri.strip_prefix("artifact://")?;
        let (job, kind) = rest.split_once('/')?;
        let job = JobId(job.to_string());
        let bytes = std::fs::read(self.path(&job, kind)?).ok()?;
        Some((job, bytes))
    }

    /// Deletes every artifact of `job`.
    pub fn remove_job(&self, job: &JobId) {
        if valid_part(&job.0) {
            let _ = std::fs::remove_dir_all(self.root.join(&job.0));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_read_remove() {
        let dir = tempfile::tempdir().unwrap();
        let store = ArtifactStore::new(dir.path());
        let job = JobId::new();
        let r = store.put(&job, "memory", b"[\"01\",\"10\"]").unwrap();
        assert_eq!(r.uri, format!("artifact://{job}/memory"));
        assert_eq!(r.size_bytes, 11);
        assert_eq!(r.sha256.len(), 64);
        assert_eq!(store.read(&r.uri).unwrap().1, b"[\"01\",\"10\"]");
        assert!(store.read("artifact://../../etc/passwd").is_none());
        assert!(store.read("http://x/y").is_none());
        store.remove_job(&job);
        assert!(store.read(&r.uri).is_none());
    }
}
