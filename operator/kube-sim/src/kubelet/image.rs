//! The image table: which local binary "is" a container image.
//!
//! A Pod names an image (`fjord/broker:0.2.0`); the kubelet runs the binary
//! the table maps it to as the container's entrypoint. An entry for a bare
//! repository (`fjord/broker`) matches every tag and digest of it; an exact
//! `repository:tag` entry wins over it. Written as TOML
//! (`[images]` then `"fjord/broker:0.2.0" = "/path/to/fjord-broker"`) or as
//! `IMAGE=PATH` flags.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, Result};

/// Image reference → entrypoint binary.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageTable {
    entries: BTreeMap<String, PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ImageFile {
    #[serde(default)]
    images: BTreeMap<String, PathBuf>,
}

impl ImageTable {
    /// Maps `image` (a `repository[:tag|@digest]`) to `binary`.
    pub fn insert(&mut self, image: impl Into<String>, binary: impl Into<PathBuf>) {
        self.entries.insert(image.into(), binary.into());
    }

    /// Parses the TOML form: an `[images]` table of `"image" = "path"`.
    pub fn from_toml(text: &str) -> Result<Self> {
        let file: ImageFile = toml::from_str(text).map_err(|source| Error::ImageTable {
            reason: source.to_string(),
        })?;
        let mut table = Self::default();
        for (image, binary) in file.images {
            table.insert(image, binary);
        }
        Ok(table)
    }

    /// Reads the TOML form from a file.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            action: "read the image table",
            path: path.to_owned(),
            source,
        })?;
        Self::from_toml(&text)
    }

    /// Adds one `IMAGE=PATH` mapping (the `--image` flag).
    pub fn insert_flag(&mut self, flag: &str) -> Result<()> {
        let (image, binary) = flag
            .split_once('=')
            .filter(|(image, binary)| !image.is_empty() && !binary.is_empty())
            .ok_or_else(|| Error::ImageTable {
                reason: format!("{flag:?} is not IMAGE=PATH"),
            })?;
        self.insert(image, binary);
        Ok(())
    }

    /// The binary that runs `image`: the exact entry, else the entry of its
    /// repository without tag or digest.
    pub fn resolve(&self, image: &str) -> Result<&Path> {
        if let Some(binary) = self.entries.get(image) {
            return Ok(binary);
        }
        self.entries
            .get(repository(image))
            .map(PathBuf::as_path)
            .ok_or_else(|| Error::UnknownImage {
                image: image.to_owned(),
            })
    }
}

/// `registry:5000/fjord/broker:0.2.0@sha256:…` → `registry:5000/fjord/broker`:
/// a digest goes, and a tag is the part after a `:` in the last path segment.
fn repository(image: &str) -> &str {
    let without_digest = image.split_once('@').map_or(image, |(name, _)| name);
    let last_segment = without_digest.rfind('/').map_or(0, |slash| slash + 1);
    match without_digest[last_segment..].rfind(':') {
        Some(colon) => &without_digest[..last_segment + colon],
        None => without_digest,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_exact_tag_wins_over_its_repository_entry() {
        let mut table = ImageTable::default();
        table.insert("fjord/broker", "/bin/any");
        table.insert("fjord/broker:0.2.0", "/bin/two");
        assert_eq!(
            table.resolve("fjord/broker:0.2.0").unwrap(),
            Path::new("/bin/two")
        );
        assert_eq!(
            table.resolve("fjord/broker:0.3.0").unwrap(),
            Path::new("/bin/any")
        );
        assert_eq!(
            table.resolve("fjord/broker@sha256:ab").unwrap(),
            Path::new("/bin/any")
        );
    }

    #[test]
    fn a_registry_port_is_not_mistaken_for_a_tag() {
        assert_eq!(
            repository("registry:5000/fjord/broker"),
            "registry:5000/fjord/broker"
        );
        assert_eq!(
            repository("registry:5000/fjord/broker:1"),
            "registry:5000/fjord/broker"
        );
    }

    #[test]
    fn an_unknown_image_is_a_clear_error() {
        let error = ImageTable::default().resolve("nginx:1").unwrap_err();
        assert!(error.to_string().contains("nginx:1"), "{error}");
    }

    #[test]
    fn the_toml_form_and_flags_build_the_same_table() {
        let from_file =
            ImageTable::from_toml("[images]\n\"fjord/broker:0.2.0\" = \"/opt/fjord-broker\"\n")
                .unwrap();
        let mut from_flags = ImageTable::default();
        from_flags
            .insert_flag("fjord/broker:0.2.0=/opt/fjord-broker")
            .unwrap();
        assert_eq!(from_file, from_flags);
    }

    #[test]
    fn unknown_keys_and_malformed_flags_are_refused() {
        assert!(ImageTable::from_toml("[imagez]\n").is_err());
        assert!(ImageTable::default().insert_flag("no-equals").is_err());
        assert!(ImageTable::default().insert_flag("=/bin/x").is_err());
    }
}
