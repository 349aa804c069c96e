//! The JSON Schemas: the committed `schemas/campaign.schema.json` is exactly what
//! `campaignctl schema` prints (so a stale schema fails CI), and it is the schema editors
//! use, so it must accept every bundled example and reject what `validate` rejects. The
//! project file's and the template catalogue's schemas are likewise checked for staleness.

use std::path::Path;

use serde_json::Value;

use crate::test::{REPO, Test};

fn committed_schema_text() -> String {
    std::fs::read_to_string(Path::new(REPO).join("schemas/campaign.schema.json"))
        .expect("schemas/campaign.schema.json is committed")
}

fn committed_validator() -> jsonschema::Validator {
    let schema: Value = serde_json::from_str(&committed_schema_text()).unwrap();
    jsonschema::options()
        .build(&schema)
        .expect("the committed schema is a valid JSON Schema")
}

/// If this fails, run `cargo run -- schema > schemas/campaign.schema.json` and commit it.
#[test]
fn committed_schema_is_up_to_date() {
    let output = Test::in_repo().args(["schema"]).stderr("").run();
    assert!(
        output.stdout == committed_schema_text(),
        "schemas/campaign.schema.json is stale: regenerate it with \
         `cargo run -- schema > schemas/campaign.schema.json`"
    );
}

/// If this fails, run `cargo run -- schema --project > schemas/project.schema.json`.
#[test]
fn committed_project_schema_is_up_to_date() {
    let output = Test::in_repo()
        .args(["schema", "--project"])
        .stderr("")
        .run();
    let committed = std::fs::read_to_string(Path::new(REPO).join("schemas/project.schema.json"))
        .expect("schemas/project.schema.json is committed");
    assert!(
        output.stdout == committed,
        "schemas/project.schema.json is stale: regenerate it with \
         `cargo run -- schema --project > schemas/project.schema.json`"
    );
    let schema: Value = serde_json::from_str(&committed).unwrap();
    assert_eq!(
        schema["$id"],
        "https://campaignctl.dev/schemas/project.schema.json"
    );
}

/// If this fails, run `cargo run -- schema --templates > schemas/templates.schema.json`.
#[test]
fn committed_templates_schema_is_up_to_date() {
    let output = Test::in_repo()
        .args(["schema", "--templates"])
        .stderr("")
        .run();
    let committed = std::fs::read_to_string(Path::new(REPO).join("schemas/templates.schema.json"))
        .expect("schemas/templates.schema.json is committed");
    assert!(
        output.stdout == committed,
        "schemas/templates.schema.json is stale: regenerate it with \
         `cargo run -- schema --templates > schemas/templates.schema.json`"
    );
    let schema: Value = serde_json::from_str(&committed).unwrap();
    assert_eq!(
        schema["$id"],
        "https://campaignctl.dev/schemas/templates.schema.json"
    );
    // The project file's `templates` takes a path, or the list a catalogue file has.
    let project: Value = serde_json::from_str(
        &std::fs::read_to_string(Path::new(REPO).join("schemas/project.schema.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        project["$defs"]["Templates"]["type"],
        serde_json::json!(["string", "array"])
    );
    assert_eq!(
        project["$defs"]["Templates"]["items"],
        schema["properties"]["templates"]["items"]
    );
    assert_eq!(project["$defs"]["Template"], schema["$defs"]["Template"]);
}

/// The bundled catalogue and project file satisfy their committed schemas, as editors
/// check them through their modelines.
#[test]
fn bundled_catalogue_and_project_file_satisfy_their_schemas() {
    for (file, schema, modeline) in [
        (
            "campaigns/templates.yaml",
            "schemas/templates.schema.json",
            "# yaml-language-server: $schema=../schemas/templates.schema.json\n",
        ),
        (
            "campaignctl.yaml",
            "schemas/project.schema.json",
            "# yaml-language-server: $schema=schemas/project.schema.json\n",
        ),
    ] {
        let read = |path: &str| std::fs::read_to_string(Path::new(REPO).join(path)).unwrap();
        let schema: Value = serde_json::from_str(&read(schema)).unwrap();
        let validator = jsonschema::options().build(&schema).unwrap();
        let text = read(file);
        assert!(
            text.starts_with(modeline),
            "{file} lacks the schema modeline"
        );
        let value: Value = serde_saphyr::from_str(&text).unwrap();
        assert!(validator.is_valid(&value), "{file}");
    }
}

#[test]
fn schema_identifies_itself() {
    let schema: Value = serde_json::from_str(&committed_schema_text()).unwrap();
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    assert_eq!(
        schema["$id"],
        "https://campaignctl.dev/schemas/campaign.schema.json"
    );
    assert_eq!(schema["additionalProperties"], false);
    let mut required: Vec<&str> = schema["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    required.sort_unstable();
    assert_eq!(required, ["language", "params", "template"]);
    let mut keys: Vec<&String> = schema["properties"].as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "default_country",
            "description",
            "enabled",
            "language",
            "media",
            "name",
            "params",
            "recipients",
            "schedule",
            "search",
            "tag",
            "template",
            "vars",
            "window"
        ]
    );
}

fn yaml_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            yaml_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            out.push(path);
        }
    }
    out.sort();
}

/// Every bundled example passes the committed schema (as an editor checks it) and starts
/// with the `yaml-language-server` modeline that points editors at it.
#[test]
fn bundled_examples_satisfy_the_committed_schema() {
    let validator = committed_validator();
    let mut files = Vec::new();
    yaml_files(&Path::new(REPO).join("campaigns"), &mut files);
    // The template catalogue is not a campaign (the project file names it).
    files.retain(|f| !f.ends_with("campaigns/templates.yaml"));
    assert!(files.len() >= 4, "{files:?}");
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        assert!(
            text.starts_with("# yaml-language-server: $schema=../schemas/campaign.schema.json\n"),
            "{} lacks the schema modeline",
            file.display()
        );
        let value: Value = serde_saphyr::from_str(&text).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&value)
            .map(|e| format!("{}: {e}", e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{}: {errors:?}", file.display());
    }
    // ...and `validate` agrees.
    Test::in_repo()
        .args(["validate", "campaigns"])
        .stdout_contains(&format!("{} file(s) valid", files.len()))
        .run();
}

/// The valid fixtures pass the committed schema too.
#[test]
fn valid_fixtures_satisfy_the_committed_schema() {
    let validator = committed_validator();
    let mut files = Vec::new();
    yaml_files(&Path::new(REPO).join("tests/fixtures/valid"), &mut files);
    for file in &files {
        let value: Value = serde_saphyr::from_str(&std::fs::read_to_string(file).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        assert!(validator.is_valid(&value), "{}", file.display());
    }
}

/// What the schema itself can say (keys, types, patterns, enums) it says the way
/// `validate` does.
#[test]
fn committed_schema_rejects_schema_level_mistakes() {
    let validator = committed_validator();
    for yaml in [
        "tempalte: t\nlanguage: en\nparams: []\n",
        "template: T-1\nlanguage: en\nparams: []\n",
        "template: t\nlanguage: en-US\nparams: []\n",
        "template: t\nlanguage: en\nparams: hello\n",
        "name: Bad Name\ntemplate: t\nlanguage: en\nparams: []\n",
        "template: t\nlanguage: en\nparams: []\nmedia: {type: gif, link: 'https://x/y'}\n",
        "template: t\nlanguage: en\nparams: []\nmedia: {type: image, link: 'http://x/y'}\n",
        "template: t\nlanguage: en\nparams: []\nschedule: {crn: '0 9 * * *'}\n",
        "template: t\nlanguage: en\nparams: []\nschedule: {cron: '0 9 * * *', catch_up: soon}\n",
        "template: t\nlanguage: en\nparams: []\nsearch: {}\n",
        "template: t\nlanguage: en\nparams: []\ntag: ''\n",
        "template: t\nlanguage: en\nparams: []\nrecipients: [{mobile: [1]}]\n",
    ] {
        let value: Value = serde_saphyr::from_str(yaml).unwrap();
        assert!(!validator.is_valid(&value), "schema accepts {yaml:?}");
        Test::new()
            .file("c.yaml", yaml)
            .args(["validate", "c.yaml"])
            .status(1)
            .run();
    }
}
