//! `docs`: every relative link in the Markdown documentation (README.md, CONTRIBUTING.md,
//! CHANGELOG.md, ARCHITECTURE.md, docs/*.md) points to a file inside the repository, no
//! document refers to the files outside it that a clone does not have, and none still
//! holds the markers of a merge conflict.

use std::path::{Path, PathBuf};

use crate::test::REPO;

/// The documents checked, top-level ones first, then `docs/*.md` in name order.
fn documents() -> Vec<PathBuf> {
    let root = Path::new(REPO);
    let mut documents = Vec::new();
    for name in [
        "README.md",
        "CONTRIBUTING.md",
        "CHANGELOG.md",
        "ARCHITECTURE.md",
    ] {
        let path = root.join(name);
        assert!(path.is_file(), "{name} is missing");
        documents.push(path);
    }
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .expect("docs/ is readable")
        .map(|entry| entry.expect("docs/ is readable").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "md"))
        .collect();
    docs.sort();
    documents.extend(docs);
    documents
}

/// A document's text and its path relative to the repository, for messages.
fn read(document: &Path) -> (String, String) {
    let text =
        std::fs::read_to_string(document).unwrap_or_else(|e| panic!("{}: {e}", document.display()));
    let shown = document
        .strip_prefix(REPO)
        .unwrap_or(document)
        .display()
        .to_string();
    (text, shown)
}

/// The targets of the inline links `[text](target)` (and images) of a Markdown text, with
/// their 1-based line numbers. Fenced code blocks and code spans are not prose: skipped.
fn links(text: &str) -> Vec<(usize, String)> {
    let mut links = Vec::new();
    let mut fenced = false;
    for (index, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        // Outside code spans: the even-numbered pieces between backticks.
        let prose: Vec<&str> = line.split('`').step_by(2).collect();
        let prose = prose.join(" ");
        let mut rest = prose.as_str();
        while let Some(start) = rest.find("](") {
            rest = &rest[start + 2..];
            let end = rest.find(')').unwrap_or(rest.len());
            // `(target "title")`, `(<target>)`
            let target = rest[..end].split_whitespace().next().unwrap_or("");
            links.push((index + 1, target.trim_matches(['<', '>']).to_owned()));
            rest = &rest[end..];
        }
    }
    links
}

fn is_external(target: &str) -> bool {
    ["http://", "https://", "mailto:"]
        .iter()
        .any(|scheme| target.starts_with(scheme))
}

#[test]
fn relative_links_resolve_inside_the_repository() {
    let root = Path::new(REPO)
        .canonicalize()
        .expect("the repository exists");
    let mut broken = Vec::new();
    let mut checked = 0;
    for document in documents() {
        let (text, shown) = read(&document);
        let dir = document.parent().expect("a document is in a directory");
        for (line, target) in links(&text) {
            if target.starts_with('#') || is_external(&target) {
                continue;
            }
            checked += 1;
            let file = target
                .split_once('#')
                .map_or(target.as_str(), |(file, _)| file);
            if file.is_empty() {
                broken.push(format!("{shown}:{line}: empty link target `{target}`"));
                continue;
            }
            match dir.join(file).canonicalize() {
                Ok(path) if path.starts_with(&root) => {}
                Ok(_) => broken.push(format!(
                    "{shown}:{line}: link `{target}` points outside the repository"
                )),
                Err(_) => broken.push(format!(
                    "{shown}:{line}: link `{target}`: `{file}` does not exist next to {shown}"
                )),
            }
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
    assert!(checked > 0, "no relative links found: is `links` broken?");
}

#[test]
fn no_document_mentions_files_outside_the_repository() {
    let mut found = Vec::new();
    for document in documents() {
        let (text, shown) = read(&document);
        for (index, line) in text.lines().enumerate() {
            if line.contains("../shared") {
                found.push(format!("{shown}:{}: {}", index + 1, line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "`../shared` is not part of the repository:\n{}",
        found.join("\n")
    );
}

#[test]
fn links_are_found_in_prose_only() {
    let text = "\
See [a](a.md#part) and ![b](img/b.png \"title\").
Code: `[c](c.md)`, then [d](<d.md>).
```
[e](e.md)
```
[f](https://example.com) [g](#anchor)
";
    let found = links(text);
    let expected: [(usize, &str); 5] = [
        (1, "a.md#part"),
        (1, "img/b.png"),
        (2, "d.md"),
        (6, "https://example.com"),
        (6, "#anchor"),
    ];
    assert_eq!(
        found,
        expected.map(|(line, target)| (line, target.to_owned())),
        "{text}"
    );
}

#[test]
fn no_document_holds_the_markers_of_a_merge_conflict() {
    for document in documents() {
        let (text, shown) = read(&document);
        for (i, line) in text.lines().enumerate() {
            assert!(
                !["<<<<<<< ", ">>>>>>> "]
                    .iter()
                    .any(|marker| line.starts_with(marker))
                    && line != "=======",
                "{shown}:{}: a merge conflict marker: {line}",
                i + 1
            );
        }
    }
}
