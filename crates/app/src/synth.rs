//! Synthetic demo data for `halsohub synth` and `halsohub demo`: generate a
//! population's register files, or read back the summary of a set
//! generated before.

use std::path::{Path, PathBuf};

pub use halsohub_synth::{Config as SynthConfig, Summary as SynthSummary, SynthError};

/// Why demo data could not be made or read.
#[derive(Debug, thiserror::Error)]
pub enum DemoDataError {
    /// Generating failed.
    #[error("generating synthetic data into {}: {error}", out.display())]
    Generate {
        /// The output directory.
        out: PathBuf,
        /// Why.
        error: SynthError,
    },
    /// A generated set's `manifest.json` cannot be read.
    #[error("reading {}: {message}", path.display())]
    Manifest {
        /// The manifest.
        path: PathBuf,
        /// Why.
        message: String,
    },
}

/// Generates the population `config` describes into `out`; `progress` is
/// called with the persons written so far.
///
/// # Errors
/// [`DemoDataError::Generate`] naming the directory.
pub fn generate(
    config: &SynthConfig,
    out: &Path,
    progress: &dyn Fn(u64),
) -> Result<SynthSummary, DemoDataError> {
    let started = std::time::Instant::now();
    let summary = halsohub_synth::generate(config, out, progress).map_err(|error| {
        DemoDataError::Generate {
            out: out.to_path_buf(),
            error,
        }
    })?;
    tracing::info!(
        persons = summary.population.persons,
        rows = summary.rows_total,
        seconds = started.elapsed().as_secs_f64(),
        "synthetic population generated"
    );
    Ok(summary)
}

/// The summary of a complete set already generated in `dir` (its
/// `manifest.json`, written last), or `None` when there is none.
///
/// # Errors
/// [`DemoDataError::Manifest`] when the manifest exists but cannot be read.
pub fn existing(dir: &Path) -> Result<Option<SynthSummary>, DemoDataError> {
    let path = dir.join("manifest.json");
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(DemoDataError::Manifest {
                path,
                message: e.to_string(),
            });
        }
    };
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| DemoDataError::Manifest {
            path,
            message: e.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_set_is_found_again_by_its_manifest() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("synth");
        assert!(existing(&out).unwrap().is_none());
        let config = SynthConfig {
            patients: 50,
            seed: 7,
            ..SynthConfig::default()
        };
        let made = generate(&config, &out, &|_| {}).unwrap();
        let again = existing(&out).unwrap().unwrap();
        assert_eq!(again.rows_total, made.rows_total);
        let err = generate(&config, &out, &|_| {}).unwrap_err().to_string();
        assert!(err.contains(&out.display().to_string()), "{err}");
        std::fs::write(out.join("manifest.json"), "{").unwrap();
        assert!(matches!(
            existing(&out),
            Err(DemoDataError::Manifest { .. })
        ));
    }
}
