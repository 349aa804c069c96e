//! Finds campaign files (a directory means every `*.yaml` / `*.yml` below it) and reads
//! them as UTF-8 text.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::document::{YamlFile, read_file};
use crate::diagnostic::{Diagnostic, Pos, io_reason};

/// One campaign file's text.
#[derive(Debug, Clone)]
pub(crate) struct Source {
    pub path: Arc<Path>,
    pub text: Arc<str>,
}

/// Reads every campaign file under `paths`, in a stable (sorted) order. Unreadable files
/// are reported, never skipped silently. A directory without campaign files is an error
/// unless `allow_empty` (the daemon: removing the last file unschedules everything).
/// `catalogue`, the project's template catalogue file, is not a campaign: a directory's
/// walk leaves it out.
pub(crate) fn load(
    paths: &[PathBuf],
    allow_empty: bool,
    catalogue: Option<&Path>,
) -> (Vec<Source>, Vec<Diagnostic>) {
    let mut files = Vec::new();
    let mut problems = Vec::new();
    let catalogue = catalogue.and_then(|c| std::fs::canonicalize(c).ok());
    for path in paths {
        match std::fs::metadata(path) {
            Ok(meta) if meta.is_dir() => {
                let before = files.len();
                let walked = walk(path, &mut files);
                if let Some(catalogue) = &catalogue {
                    let mut found = files.split_off(before);
                    found.retain(|f| std::fs::canonicalize(f).ok().as_ref() != Some(catalogue));
                    files.extend(found);
                }
                if let Err(e) = walked {
                    problems.push(Diagnostic::error(path.as_path(), Pos::default(), e));
                } else if files.len() == before && !allow_empty {
                    problems.push(Diagnostic::error(
                        path.as_path(),
                        Pos::default(),
                        "no campaign files (*.yaml, *.yml) in this directory",
                    ));
                }
            }
            Ok(_) => files.push(path.clone()),
            Err(e) => problems.push(Diagnostic::error(
                path.as_path(),
                Pos::default(),
                format!("cannot read: {}", io_reason(&e)),
            )),
        }
    }
    // The same file named twice (directly and through its directory) is loaded once.
    let mut seen = HashSet::new();
    files.retain(|f| seen.insert(std::fs::canonicalize(f).unwrap_or_else(|_| f.clone())));

    let mut sources = Vec::new();
    for path in files {
        match read_file(&path, YamlFile::Campaign) {
            Ok(text) => sources.push(Source {
                path: path.into(),
                text: text.into(),
            }),
            Err(d) => problems.push(*d),
        }
    }
    (sources, problems)
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>) -> Result<(), String> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot read directory: {}", io_reason(&e)))?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            !p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        })
        .collect();
    paths.sort();
    for path in paths {
        if path.is_dir() {
            walk(&path, files)?;
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml")
        ) && path.file_name() != Some(std::ffi::OsStr::new(super::project::PROJECT_FILE))
        {
            // The project file is not a campaign, wherever the walk meets it.
            files.push(path);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directories_are_walked_in_order_and_non_utf8_is_located() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("b/nested")).unwrap();
        std::fs::write(root.join("b/nested/z.yml"), "a: 1\n").unwrap();
        std::fs::write(root.join("a.yaml"), "a: 1\n").unwrap();
        std::fs::write(root.join("notes.txt"), "x").unwrap();
        std::fs::write(root.join(".hidden.yaml"), "x").unwrap();
        std::fs::write(root.join("bad.yaml"), b"name: x\nlanguage: \xff\n").unwrap();
        let (sources, problems) = load(&[root.to_owned(), root.join("a.yaml")], false, None);
        let names: Vec<_> = sources
            .iter()
            .map(|s| s.path.strip_prefix(root).unwrap().to_owned())
            .collect();
        assert_eq!(
            names,
            [PathBuf::from("a.yaml"), PathBuf::from("b/nested/z.yml")]
        );
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].pos, Pos::new(2, 11, 1));
        assert!(problems[0].message.contains("not valid UTF-8"));
    }

    #[test]
    fn missing_paths_and_empty_directories_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let (sources, problems) = load(
            &[dir.path().join("nope.yaml"), dir.path().to_owned()],
            false,
            None,
        );
        assert!(sources.is_empty());
        assert_eq!(problems.len(), 2);
        assert_eq!(
            problems[0].message,
            "cannot read: No such file or directory"
        );
        assert!(problems[1].message.starts_with("no campaign files"));
    }
}
