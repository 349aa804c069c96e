//! The template catalogue: the project file's `templates:` (inline, or a YAML or JSON file),
//! its own errors located in the file that has them, every check of a campaign against it
//! at the campaign's positions, the per-send length checks, the marketing warning for +1
//! numbers, and the note `validate` gives without a catalogue.

use crate::test::{NO_CATALOGUE_NOTE, Test};

const NOW: &str = "2026-11-30T03:35:00Z";

/// A catalogue file of three templates.
const TEMPLATES: &str = "
    templates:
      - name: order_update
        languages: [en, en_US]
        category: utility
        params: 3
        param_max_lengths: [12, 40, 2000]
      - name: spring_sale
        languages: [en_US]
        category: marketing
        params: 1
        media: image
      - name: old_offer
        languages: [en]
        category: marketing
        params: 0
        status: paused
      - name: retired_notice
        languages: [en]
        category: utility
        params: 0
        status: disabled
    ";

/// A test with `campaignctl.yaml` naming `templates.yaml` (the catalogue above).
fn project() -> Test {
    Test::new()
        .file("campaignctl.yaml", "templates: templates.yaml\n")
        .file("templates.yaml", TEMPLATES)
}

#[test]
fn a_campaign_that_matches_its_template_is_valid_without_a_note() {
    project()
        .file(
            "c.yaml",
            r#"
            template: order_update
            language: en_US
            params: ["{{ recipient.name }}", "A-1001", shipped]
            recipients:
              - mobile: "919739978284"
                name: Partha
            "#,
        )
        .args(["validate", "c.yaml"])
        .stdout("1 file(s) valid: 1 campaign(s), 1 send(s) rendered\n")
        .stderr("")
        .run();
}

#[test]
fn a_template_not_in_the_catalogue_is_an_error_with_a_hint() {
    project()
        .file(
            "c.yaml",
            "template: order_updates\nlanguage: en\nparams: [a, b, c]\nsearch: {city: Pune}\n",
        )
        .file(
            "d.yaml",
            "template: welcome\nlanguage: en\nparams: []\nsearch: {city: Pune}\n",
        )
        .args(["validate", "c.yaml", "d.yaml"])
        .stderr(
            "
            c.yaml:1:11: error: template `order_updates` is not in the template catalogue (templates.yaml)
              |
            1 | template: order_updates
              |           ^^^^^^^^^^^^^
              = help: did you mean `order_update`?
            d.yaml:1:11: error: template `welcome` is not in the template catalogue (templates.yaml)
              |
            1 | template: welcome
              |           ^^^^^^^
              = help: add it to the catalogue once it is approved in WhatsApp Manager; WhatsApp rejects a template it does not know (132001)
            2 errors, 0 warnings
            ",
        )
        .status(1)
        .run();
}

#[test]
fn a_language_the_template_is_not_approved_in_is_an_error() {
    project()
        .file(
            "c.yaml",
            "template: order_update\nlanguage: pt_BR\nparams: [a, b, c]\nsearch: {city: Pune}\n",
        )
        .args(["validate", "c.yaml"])
        .stderr(
            "
            c.yaml:2:11: error: template `order_update` is not approved in `pt_BR`
              |
            2 | language: pt_BR
              |           ^^^^^
              = help: it is approved in `en`, `en_US`
            1 error, 0 warnings
            ",
        )
        .status(1)
        .run();
}

#[test]
fn a_param_count_that_differs_names_both_counts() {
    project()
        .file(
            "c.yaml",
            "template: order_update\nlanguage: en\nparams:\n  - a\n  - b\nsearch: {city: Pune}\n",
        )
        .args(["validate", "c.yaml"])
        .stderr(
            "
            c.yaml:3:1: error: template `order_update` takes 3 params; this campaign gives 2
              |
            3 | params:
              | ^^^^^^
              = help: WhatsApp rejects every send whose param count differs from the template's (132000)
            1 error, 0 warnings
            ",
        )
        .status(1)
        .run();
}

#[test]
fn media_must_match_the_templates_header() {
    let media = |template: &str, params: &str, media: &str| {
        format!(
            "template: {template}\nlanguage: en_US\n{media}params: {params}\nsearch: {{city: Pune}}\n"
        )
    };
    project()
        .file("missing.yaml", media("spring_sale", "[a]", ""))
        .file(
            "wrong.yaml",
            media(
                "spring_sale",
                "[a]",
                "media:\n  type: video\n  link: https://example.com/v.mp4\n",
            ),
        )
        .file(
            "extra.yaml",
            media(
                "order_update",
                "[a, b, c]",
                "media:\n  type: document\n  link: https://example.com/d.pdf\n",
            ),
        )
        .args(["validate", "missing.yaml", "wrong.yaml", "extra.yaml"])
        .stderr(
            "
            extra.yaml:3:1: error: template `order_update` has no media header; this campaign gives a document
              |
            3 | media:
              | ^^^^^
              = help: remove `media`, or use a template with a media header
            missing.yaml:1:11: error: template `spring_sale` has an image header; this campaign gives no `media`
              |
            1 | template: spring_sale
              |           ^^^^^^^^^^^
              = help: add `media: {type: image, link: https://...}`
            wrong.yaml:4:9: error: template `spring_sale` has an image header; this campaign's media is a video
              |
            4 |   type: video
              |         ^^^^^
              = help: give `type: image` and a link to an image
            3 errors, 0 warnings
            ",
        )
        .status(1)
        .run();
}

#[test]
fn paused_and_disabled_templates_are_errors() {
    project()
        .file(
            "a.yaml",
            "template: old_offer\nlanguage: en\nparams: []\nsearch: {city: Pune}\n",
        )
        .file(
            "b.yaml",
            "template: retired_notice\nlanguage: en\nparams: []\nsearch: {city: Pune}\n",
        )
        .args(["validate", "a.yaml", "b.yaml"])
        .stderr(
            "
            a.yaml:1:11: error: template `old_offer` is paused: WhatsApp rejects its sends (132015)
              |
            1 | template: old_offer
              |           ^^^^^^^^^
              = help: Meta pauses a template whose quality rating is low; send it once it is active again (then set `status: approved` in the catalogue), or use another template
            b.yaml:1:11: error: template `retired_notice` is disabled: WhatsApp rejects its sends (132016)
              |
            1 | template: retired_notice
              |           ^^^^^^^^^^^^^^
              = help: Meta disables a template that stayed low in quality; use another template
            2 errors, 0 warnings
            ",
        )
        .status(1)
        .run();
}

/// Every disagreement of one campaign at once; a key with a schema problem is left to it.
#[test]
fn every_mismatch_of_a_campaign_is_reported_and_schema_problems_are_not_repeated() {
    project()
        .file(
            "c.yaml",
            "template: order_update\nlanguage: en-GB\nparams: [a]\nsearch: {city: Pune}\n",
        )
        .args(["validate", "c.yaml"])
        .stderr(
            "
            c.yaml:2:11: error: `en-GB` is not a WhatsApp template language code
              |
            2 | language: en-GB
              |           ^^^^^
              = help: did you mean `en_GB`? codes use an underscore: en, en_US, pt_BR
            c.yaml:3:1: error: template `order_update` takes 3 params; this campaign gives 1
              |
            3 | params: [a]
              | ^^^^^^
              = help: WhatsApp rejects every send whose param count differs from the template's (132000)
            2 errors, 0 warnings
            ",
        )
        .status(1)
        .run();
}

/// Lengths are checked per send, where the params are rendered: at the param, naming the
/// recipient and where it is listed.
#[test]
fn a_param_longer_than_its_maximum_or_than_1024_characters_is_an_error_per_send() {
    let long = "x".repeat(1100);
    project()
        .file(
            "c.yaml",
            r#"
            template: order_update
            language: en
            params:
              - "{{ recipient.name }}"
              - A-1001
              - "{{ recipient.note }}"
            recipients:
              - mobile: "919739978284"
                name: Partha Ramanujan
                note: fine
              - file: list.csv
            "#,
        )
        .file(
            "list.csv",
            format!("mobile,name,note\n919845012345,Asha,{long}\n"),
        )
        .args(["validate", "c.yaml"])
        .stderr(&format!(
            "
            c.yaml:4:5: error: param 1 for recipient 919739978284 (c.yaml:8:5): renders to \"Partha Ramanujan\" (16 characters); template `order_update` takes at most 12 in param 1 (`param_max_lengths`)
              |
            4 |   - \"{{{{ recipient.name }}}}\"
              |     ^^^^^^^^^^^^^^^^^^^^^^
            c.yaml:6:5: error: param 3 for recipient 919845012345 (list.csv:2): renders to \"{}…\" (1,100 characters); WhatsApp takes at most 1,024 in a param
              |
            6 |   - \"{{{{ recipient.note }}}}\"
              |     ^^^^^^^^^^^^^^^^^^^^^^
            2 errors, 0 warnings
            ",
            "x".repeat(40)
        ))
        .status(1)
        .run();
}

/// Without a catalogue, only WhatsApp's rules for a param's text apply: no length limit.
#[test]
fn without_a_catalogue_lengths_are_not_checked_and_validate_says_so_once() {
    let long = "x".repeat(1100);
    Test::new()
        .file(
            "a.yaml",
            format!("template: t\nlanguage: en\nparams: [\"{long}\"]\nsearch: {{city: Pune}}\n"),
        )
        .file(
            "b.yaml",
            "template: u\nlanguage: en\nparams: []\nsearch: {city: Pune}\n",
        )
        .args(["validate", "a.yaml", "b.yaml"])
        .stdout(&format!(
            "2 file(s) valid: 2 campaign(s), 2 send(s) rendered\n{NO_CATALOGUE_NOTE}"
        ))
        .stderr("")
        .run();
    // The note names the project file in use, and is not a warning of the plan.
    Test::new()
        .file("settings/project.yaml", "default_country: IN\n")
        .file(
            "a.yaml",
            "template: t\nlanguage: en\nparams: []\nsearch: {city: Pune}\n",
        )
        .args(["validate", "a.yaml", "--config", "settings/project.yaml"])
        .stdout(
            "
            1 file(s) valid: 1 campaign(s), 1 send(s) rendered
            note: template names, languages, param counts and media are not checked: there is no template catalogue; list your templates under `templates:` in settings/project.yaml (see docs/templates.md)
            ",
        )
        .stderr("")
        .run();
    Test::new()
        .file(
            "a.yaml",
            "template: t\nlanguage: en\nparams: []\nsearch: {city: Pune}\n",
        )
        .args(["plan", "a.yaml", "--now", NOW])
        .stderr("")
        .run();
}

#[test]
fn a_marketing_template_to_plus_one_numbers_is_a_warning_with_the_count() {
    project()
        .file(
            "sale.yaml",
            r#"
            name: sale
            template: spring_sale
            language: en_US
            media:
              type: image
              link: https://example.com/sale.png
            params: ["{{ recipient.name }}"]
            recipients:
              - mobile: "+1 415 555 2671"
                name: Ann
              - mobile: "+91 97399 78284"
                name: Partha
              - file: list.csv
            "#,
        )
        .file(
            "list.csv",
            "mobile,name\n+1 (613) 555-0123,Bea\n+1 415 555 2671,Ann again\n",
        )
        // A utility template to the same numbers is not warned about.
        .file(
            "order.yaml",
            "template: order_update\nlanguage: en_US\nparams: [a, b, c]\nrecipients:\n  - mobile: \"+1 415 555 2671\"\n",
        )
        .args(["validate", "sale.yaml", "order.yaml"])
        .stdout("2 file(s) valid: 2 campaign(s), 4 send(s) rendered, 2 warning(s)\n")
        .stderr(
            "
            list.csv:3: warning: 14155552671 is listed more than once in campaign `sale`; it is sent once
              = help: first listed at sale.yaml:9
            sale.yaml:8:1: warning: campaign `sale` sends the marketing template `spring_sale` to 2 recipients with +1 (US or Canada) numbers: Meta does not deliver marketing templates to US numbers
              |
            8 | recipients:
              | ^^^^^^^^^^
              = help: those sends are likely to fail: send them a utility template instead, or leave them out
            ",
        )
        .run();
    // `plan` gives the same warning; a +1 number that opted out is not counted.
    Test::new()
        .file(
            "campaignctl.yaml",
            "suppressions: [optouts.csv]\ntemplates:\n  - {name: promo, languages: [en], category: marketing, params: 0}\n",
        )
        .file("optouts.csv", "mobile\n+1 613 555 0123\n")
        .file(
            "promo.yaml",
            "template: promo\nlanguage: en\nparams: []\nrecipients:\n  - mobile: \"+1 415 555 2671\"\n  - mobile: \"+1 613 555 0123\"\n",
        )
        .args(["plan", "promo.yaml", "--now", NOW])
        .stderr_contains("warning: campaign `promo` sends the marketing template `promo` to 1 recipient with a +1 (US or Canada) number: Meta does not deliver marketing templates to US numbers\n")
        .run();
}

/// An inline catalogue's errors are located in the project file; they leave the catalogue
/// out, and the rest of the project file (here the default country) still applies.
#[test]
fn an_inline_catalogue_in_the_project_file_works_and_its_errors_are_located_there() {
    Test::new()
        .file(
            "campaignctl.yaml",
            "
            templates:
              - name: welcome
                languages: [en]
                category: utility
                params: 1
            ",
        )
        .file(
            "c.yaml",
            "template: welcome\nlanguage: en\nparams: [Hi]\nsearch: {city: Pune}\n",
        )
        .args(["validate", "c.yaml"])
        .stdout("1 file(s) valid: 1 campaign(s), 1 send(s) rendered\n")
        .run();
    Test::new()
        .file(
            "campaignctl.yaml",
            "
            default_country: IN
            templates:
              - name: welcome
                languages: [en]
                category: utility
                params: 2
                param_max_lengths: [20]
              - name: welcome
                languages: [hi]
                category: utility
                params: 2
              - name: promo
                languages: [en]
                category: promotional
                params: 1
                meda: image
            ",
        )
        .file(
            "c.yaml",
            "template: welcome\nlanguage: en\nparams: [Hi]\nrecipients:\n  - mobile: \"097399 78284\"\n",
        )
        .args(["validate", "c.yaml"])
        .stderr(
            "
            campaignctl.yaml:14:15: error: `templates[2].category` must be one of `marketing`, `utility`, `authentication`, found the string \"promotional\"
               |
            14 |     category: promotional
               |               ^^^^^^^^^^^
            campaignctl.yaml:16:5: error: unknown key `meda` in `templates[2]`
               |
            16 |     meda: image
               |     ^^^^
               = help: did you mean `media`?
            2 errors, 0 warnings
            ",
        )
        .status(1)
        .run();
}

/// A catalogue file's own problems are located in it, all at once; the campaigns are still
/// checked (with the rest of the project file), only not against the catalogue.
#[test]
fn a_catalogue_files_errors_are_located_in_it() {
    Test::new()
        .file("campaignctl.yaml", "templates: catalogue/templates.yaml\n")
        .file(
            "catalogue/templates.yaml",
            "
            templates:
              - name: Order-Update
                languages: [en, en-US]
                category: utility
                params: -1
              - name: welcome
                languages: []
                category: utility
                params: 1
                media: gif
              - langauges: [en]
                name: promo
                category: marketing
                params: 1
            ",
        )
        .file(
            "c.yaml",
            "template: welcome\nlanguage: en\nparams: [Hi]\nsearch: {city: Pune}\n",
        )
        .args(["validate", "c.yaml"])
        .stderr(
            "
            catalogue/templates.yaml:2:11: error: invalid template name `Order-Update`
              |
            2 |   - name: Order-Update
              |           ^^^^^^^^^^^^
              = help: WhatsApp template names are lowercase letters, digits and underscores
            catalogue/templates.yaml:3:21: error: `en-US` is not a WhatsApp template language code
              |
            3 |     languages: [en, en-US]
              |                     ^^^^^
              = help: did you mean `en_US`? codes use an underscore: en, en_US, pt_BR
            catalogue/templates.yaml:5:13: error: `templates[0].params` must be at least 0, found the number -1
              |
            5 |     params: -1
              |             ^^
            catalogue/templates.yaml:7:16: error: `templates[1].languages` must not be empty
              |
            7 |     languages: []
              |                ^
            catalogue/templates.yaml:10:12: error: `templates[1].media` must be one of `none`, `image`, `video`, `document`, found the string \"gif\"
               |
            10 |     media: gif
               |            ^^^
            catalogue/templates.yaml:11:5: error: `templates[2]` is missing required key `languages`
               |
            11 |   - langauges: [en]
               |     ^
            catalogue/templates.yaml:11:5: error: unknown key `langauges` in `templates[2]`
               |
            11 |   - langauges: [en]
               |     ^^^^^^^^^
               = help: did you mean `languages`?
            7 errors, 0 warnings
            ",
        )
        .status(1)
        .run();
}

/// Rules the schema cannot express: unique names, one maximum length per param.
#[test]
fn duplicate_names_and_param_max_lengths_of_the_wrong_length_are_errors() {
    Test::new()
        .file("campaignctl.yaml", "templates: templates.yaml\n")
        .file(
            "templates.yaml",
            "
            templates:
              - name: welcome
                languages: [en]
                category: utility
                params: 2
                param_max_lengths: [20]
              - name: welcome
                languages: [hi]
                category: utility
                params: 2
            ",
        )
        .file(
            "c.yaml",
            "template: welcome\nlanguage: en\nparams: [a, b]\nsearch: {city: Pune}\n",
        )
        .args(["validate", "c.yaml"])
        .stderr(
            "
            templates.yaml:6:24: error: `param_max_lengths` has 1 entry for template `welcome`, which takes 2 params
              |
            6 |     param_max_lengths: [20]
              |                        ^
              = help: give one maximum length per param, in order
            templates.yaml:7:11: error: template `welcome` is listed twice in the catalogue
              |
            7 |   - name: welcome
              |           ^^^^^^^
              = help: first listed at templates.yaml:2:11; list each template once, with all its languages
            2 errors, 0 warnings
            ",
        )
        .status(1)
        .run();
}

/// JSON is YAML: a `.json` catalogue works, and its errors have positions too.
#[test]
fn a_json_catalogue() {
    let json = r#"{
  "templates": [
    {"name": "welcome", "languages": ["en"], "category": "utility", "params": 1},
    {"name": "promo", "languages": ["en"], "category": "marketing", "params": "2"}
  ]
}
"#;
    Test::new()
        .file("campaignctl.yaml", "templates: templates.json\n")
        .file("templates.json", json.replace(", \"params\": \"2\"", ", \"params\": 2").as_bytes())
        .file(
            "c.yaml",
            "template: promo\nlanguage: en\nparams: [a]\nsearch: {city: Pune}\n",
        )
        .args(["validate", "c.yaml"])
        .stderr(
            "
            c.yaml:3:1: error: template `promo` takes 2 params; this campaign gives 1
              |
            3 | params: [a]
              | ^^^^^^
              = help: WhatsApp rejects every send whose param count differs from the template's (132000)
            1 error, 0 warnings
            ",
        )
        .status(1)
        .run();
    Test::new()
        .file("campaignctl.yaml", "templates: templates.json\n")
        .file("templates.json", json.as_bytes())
        .file(
            "c.yaml",
            "template: promo\nlanguage: en\nparams: [a]\nsearch: {city: Pune}\n",
        )
        .args(["validate", "c.yaml"])
        .stderr(
            r#"
            templates.json:4:79: error: `templates[1].params` must be an integer, found the string "2"
              |
            4 |     {"name": "promo", "languages": ["en"], "category": "marketing", "params": "2"}
              |                                                                               ^^^
            1 error, 0 warnings
            "#,
        )
        .status(1)
        .run();
}

#[test]
fn a_catalogue_file_that_cannot_be_read_is_an_error_at_its_entry() {
    Test::new()
        .file("campaignctl.yaml", "# the project\ntemplates: missing.yaml\n")
        .file(
            "c.yaml",
            "template: t\nlanguage: en\nparams: []\nsearch: {city: Pune}\n",
        )
        .args(["validate", "c.yaml"])
        .stderr(
            "
            campaignctl.yaml:2:12: error: cannot read the template catalogue `missing.yaml`: No such file or directory
              |
            2 | templates: missing.yaml
              |            ^^^^^^^^^^^^
            1 error, 0 warnings
            ",
        )
        .status(1)
        .run();
}

/// A catalogue inside a campaign directory is not read as a campaign; named on its own,
/// a campaign file is what it is taken for.
#[test]
fn the_catalogue_file_is_not_a_campaign() {
    project()
        .file("campaigns/templates.yaml", TEMPLATES)
        .file("campaignctl.yaml", "templates: campaigns/templates.yaml\n")
        .file(
            "campaigns/a.yaml",
            "template: order_update\nlanguage: en\nparams: [a, b, c]\nsearch: {city: Pune}\n",
        )
        .args(["validate", "campaigns"])
        .stdout("1 file(s) valid: 1 campaign(s), 1 send(s) rendered\n")
        .stderr("")
        .run();
}

/// `optout` reads the project file for its default country, never the catalogue: a number
/// can be opted out while the catalogue has a mistake.
#[test]
fn optout_does_not_depend_on_the_catalogue() {
    Test::new()
        .file(
            "campaignctl.yaml",
            "default_country: IN\ntemplates:\n  - {name: Bad-Name}\n",
        )
        .args(["optout", "add", "097399 78284", "--state", "state.db"])
        .stdout_contains("919739978284")
        .run();
    Test::new()
        .file("campaignctl.yaml", "templates: missing.yaml\n")
        .args(["optout", "add", "+91 97399 78284", "--state", "state.db"])
        .run();
}
