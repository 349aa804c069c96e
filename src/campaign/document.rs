//! A YAML campaign file parsed into a JSON value plus the source position of every node,
//! so that a schema error at `/recipients/3/mobile` is reported at its line and column.

use std::collections::HashMap;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};
use serde_saphyr::{Location, Spanned};

use std::path::Path;

use crate::diagnostic::{Diagnostic, Pos, io_reason};

/// Where a node is in the file: the value, and for mapping entries also the key.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct NodeSpan {
    pub key: Option<Pos>,
    pub value: Pos,
}

/// A parsed campaign file.
#[derive(Debug, Clone)]
pub(crate) struct Document {
    pub value: Value,
    spans: HashMap<String, NodeSpan>,
}

/// A problem found while parsing; the caller attaches the file name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ParseError {
    pub pos: Pos,
    pub message: String,
}

impl Document {
    /// Parses YAML text. Duplicate keys, alias bombs, runaway nesting and multiple documents
    /// are errors with a position; nothing here panics or runs unbounded on hostile input.
    pub(crate) fn parse(text: &str) -> Result<Document, ParseError> {
        let options = serde_saphyr::options! {
            // `no`, `y` and `on` stay strings: YAML 1.1 booleans surprise people.
            strict_booleans: true,
            // `0755` is a (bad) phone number, not the float 755.
            leading_zero_numbers_as_strings: true,
            with_snippet: false,
        };
        let root: Spanned<Node> =
            serde_saphyr::from_str_with_options(text, options).map_err(|err| {
                let pos = err.location().map(|loc| pos_of(&loc)).unwrap_or_default();
                let message = serde_saphyr::MessageFormatter::format_message(
                    &serde_saphyr::UserMessageFormatter,
                    &err,
                )
                .into_owned();
                ParseError {
                    pos,
                    message: format!("invalid YAML: {}", humanize(&message)),
                }
            })?;
        let mut spans = HashMap::new();
        let value = convert(root, String::new(), None, &mut spans)?;
        Ok(Document { value, spans })
    }

    /// The span of the node at a JSON pointer, or of its nearest ancestor that has one.
    pub(crate) fn span(&self, pointer: &str) -> NodeSpan {
        let mut pointer = pointer;
        loop {
            if let Some(span) = self.spans.get(pointer) {
                return *span;
            }
            match pointer.rfind('/') {
                Some(i) => pointer = &pointer[..i],
                None => return NodeSpan::default(),
            }
        }
    }

    /// Position of the value at `pointer`.
    pub(crate) fn value_pos(&self, pointer: &str) -> Pos {
        self.span(pointer).value
    }

    /// Position of the key of the mapping entry at `pointer` (its value if it has no key).
    pub(crate) fn key_pos(&self, pointer: &str) -> Pos {
        let span = self.span(pointer);
        span.key.unwrap_or(span.value)
    }
}

/// serde-saphyr names breached safety limits in Rust debug syntax (`Nodes { nodes: 250001 }`);
/// say what it means instead.
fn humanize(message: &str) -> String {
    let Some(breach) = message.split("limits breached: ").nth(1) else {
        return message.to_owned();
    };
    let number = breach
        .split(|c: char| !c.is_ascii_digit())
        .find(|part| !part.is_empty())
        .unwrap_or("?");
    let kind = breach.split_whitespace().next().unwrap_or_default();
    match kind {
        "Nodes" => format!(
            "the document expands to more than {} values (an alias repeated over and over?)",
            number.parse::<u64>().map_or(0, |n| n - 1)
        ),
        "Depth" => format!("the document is nested {number} levels deep, beyond the safety limit"),
        "Aliases" => format!(
            "the document uses more than {} aliases",
            number.parse::<u64>().map_or(0, |n| n - 1)
        ),
        _ => format!("the document exceeds a safety limit ({kind})"),
    }
}

/// Appends one reference token to a JSON pointer (RFC 6901 escaping).
pub(crate) fn pointer_push(pointer: &str, token: &str) -> String {
    let token = token.replace('~', "~0").replace('/', "~1");
    format!("{pointer}/{token}")
}

fn pos_of(loc: &Location) -> Pos {
    let len = usize::try_from(loc.span().len()).unwrap_or(1);
    Pos::new(
        usize::try_from(loc.line()).unwrap_or(0),
        usize::try_from(loc.column()).unwrap_or(0),
        len.max(1),
    )
}

fn convert(
    node: Spanned<Node>,
    pointer: String,
    key: Option<Pos>,
    spans: &mut HashMap<String, NodeSpan>,
) -> Result<Value, ParseError> {
    let value_pos = pos_of(&node.referenced);
    let value = match node.value {
        Node::Null => Value::Null,
        Node::Bool(b) => Value::Bool(b),
        Node::Number(n) => Value::Number(n),
        Node::String(s) => Value::String(s),
        Node::Seq(items) => {
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.into_iter().enumerate() {
                out.push(convert(item, format!("{pointer}/{i}"), None, spans)?);
            }
            Value::Array(out)
        }
        Node::Map(entries) => {
            let mut out = Map::new();
            for (k, v) in entries {
                let key_pos = pos_of(&k.referenced);
                let name = match k.value {
                    Node::String(s) => s,
                    Node::Number(n) => n.to_string(),
                    Node::Bool(b) => b.to_string(),
                    Node::Null => "null".to_owned(),
                    Node::Seq(_) | Node::Map(_) => {
                        return Err(ParseError {
                            pos: key_pos,
                            message: "a mapping key must be a plain value, not a list or mapping"
                                .to_owned(),
                        });
                    }
                };
                if out.contains_key(&name) {
                    // serde-saphyr catches literal duplicates; this catches `1` vs `"1"`.
                    return Err(ParseError {
                        pos: key_pos,
                        message: format!("duplicate key `{name}`"),
                    });
                }
                let child = pointer_push(&pointer, &name);
                let value = convert(v, child, Some(key_pos), spans)?;
                out.insert(name, value);
            }
            Value::Object(out)
        }
    };
    spans.insert(
        pointer,
        NodeSpan {
            key,
            value: value_pos,
        },
    );
    Ok(value)
}

/// A YAML node with the position of every child; built by serde-saphyr through
/// `deserialize_any`, so merges, aliases and budgets are all handled by the parser.
enum Node {
    Null,
    Bool(bool),
    Number(Number),
    String(String),
    Seq(Vec<Spanned<Node>>),
    Map(Vec<(Spanned<Node>, Spanned<Node>)>),
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Node, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_unit<E>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }

    fn visit_none<E>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Node, D::Error> {
        Node::deserialize(deserializer)
    }

    fn visit_bool<E>(self, v: bool) -> Result<Node, E> {
        Ok(Node::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Node, E> {
        Ok(Node::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Node, E> {
        Ok(Node::Number(v.into()))
    }

    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Node, E> {
        // Too large for JSON numbers; keep the digits (a long phone number, say).
        Ok(Node::String(v.to_string()))
    }

    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Node, E> {
        Ok(Node::String(v.to_string()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Node, E> {
        Number::from_f64(v)
            .map(Node::Number)
            .ok_or_else(|| E::custom(format!("`{v}` is not a finite number")))
    }

    fn visit_str<E>(self, v: &str) -> Result<Node, E> {
        Ok(Node::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Node, E> {
        Ok(Node::String(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Node::Seq(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key()? {
            let value = map.next_value()?;
            entries.push((key, value));
        }
        Ok(Node::Map(entries))
    }
}

/// YAML files larger than this are refused rather than read into memory; recipients in bulk
/// belong in a CSV file, which is streamed.
const MAX_FILE_BYTES: u64 = 8 * 1024 * 1024;

/// What a YAML file is, for the messages of [`read_file`].
#[derive(Debug, Clone, Copy)]
pub(crate) enum YamlFile {
    Campaign,
    Catalogue,
}

impl YamlFile {
    fn plural(self) -> &'static str {
        match self {
            YamlFile::Campaign => "campaign files",
            YamlFile::Catalogue => "template catalogues",
        }
    }
}

/// Reads a YAML file as text, within the size limit; a file that is not UTF-8 is an error at
/// its first bad byte.
pub(crate) fn read_file(path: &Path, kind: YamlFile) -> Result<String, Box<Diagnostic>> {
    let fail = |pos: Pos, message: String| Box::new(Diagnostic::error(path, pos, message));
    let meta = std::fs::metadata(path)
        .map_err(|e| fail(Pos::default(), format!("cannot read: {}", io_reason(&e))))?;
    if meta.len() > MAX_FILE_BYTES {
        let hint = match kind {
            YamlFile::Campaign => " (put recipients in a CSV file)",
            YamlFile::Catalogue => "",
        };
        return Err(fail(
            Pos::default(),
            format!(
                "file is {} bytes; {} are limited to {MAX_FILE_BYTES}{hint}",
                meta.len(),
                kind.plural()
            ),
        ));
    }
    let bytes = std::fs::read(path)
        .map_err(|e| fail(Pos::default(), format!("cannot read: {}", io_reason(&e))))?;
    String::from_utf8(bytes).map_err(|e| {
        let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let valid = std::str::from_utf8(valid).unwrap_or_default();
        let line = valid.matches('\n').count() + 1;
        let column = valid.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        fail(
            Pos::new(line, column, 1),
            format!(
                "file is not valid UTF-8 ({} must be UTF-8 text)",
                kind.plural()
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn positions_of_nested_values_and_keys() {
        let doc = Document::parse("a: 1\nlist:\n  - x\n  - {c: two}\n").unwrap();
        assert_eq!(doc.value, json!({"a": 1, "list": ["x", {"c": "two"}]}));
        assert_eq!(doc.value_pos("/a"), Pos::new(1, 4, 1));
        assert_eq!(doc.key_pos("/a"), Pos::new(1, 1, 1));
        assert_eq!(doc.value_pos("/list/1/c").line, 4);
        assert_eq!(doc.key_pos("/list/1/c"), Pos::new(4, 6, 1));
        // Unknown pointers fall back to the nearest known ancestor.
        assert_eq!(doc.value_pos("/list/1/c/zzz"), doc.value_pos("/list/1/c"));
    }

    #[test]
    fn duplicate_keys_are_errors_with_position() {
        let err = Document::parse("a: 1\na: 2\n").unwrap_err();
        assert_eq!(err.pos.line, 2);
        assert!(
            err.message.contains("duplicate mapping key `a`"),
            "{}",
            err.message
        );
    }

    #[test]
    fn merge_keys_apply_and_explicit_keys_win() {
        let doc = Document::parse("base: &b {x: 1, y: 2}\nd:\n  <<: *b\n  y: 3\n").unwrap();
        assert_eq!(doc.value["d"], json!({"x": 1, "y": 3}));
    }

    #[test]
    fn yaml11_booleans_and_leading_zeros_stay_strings() {
        let doc = Document::parse("a: no\nb: y\nc: 0755\nd: true\n").unwrap();
        assert_eq!(
            doc.value,
            json!({"a": "no", "b": "y", "c": "0755", "d": true})
        );
    }

    #[test]
    fn hostile_input_is_an_error_not_a_hang() {
        let deep = "[".repeat(20_000);
        assert!(Document::parse(&deep).is_err());
        let mut bomb = String::from("a: &a [x,x,x,x,x,x,x,x,x]\n");
        for (prev, name) in ["a", "b", "c", "d", "e", "f", "g", "h"]
            .iter()
            .zip(["b", "c", "d", "e", "f", "g", "h", "i"])
        {
            let refs = vec![format!("*{prev}"); 9].join(",");
            bomb.push_str(&format!("{name}: &{name} [{refs}]\n"));
        }
        let err = Document::parse(&bomb).unwrap_err();
        assert!(
            err.message.contains("more than 250000 values"),
            "{}",
            err.message
        );
        assert!(Document::parse("a: [\n").is_err());
        assert!(Document::parse("a: &a [*a]\n").is_err());
    }

    #[test]
    fn pointer_tokens_are_escaped() {
        assert_eq!(pointer_push("/vars", "a/b~c"), "/vars/a~1b~0c");
    }
}
