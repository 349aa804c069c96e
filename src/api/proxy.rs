//! The proxy the API's requests go through: from the environment, read as reqwest reads it
//! (hyper-util's matcher: `HTTPS_PROXY` for https, `HTTP_PROXY` for http, `ALL_PROXY` for
//! both, each also in lower case, and `NO_PROXY`), checked before anything is sent, and
//! named in messages without its user or password.
//!
//! The matcher skips a URL it cannot use, so a typo would send every request direct, around
//! the proxy the user asked for: here it is an error naming the variable.

use std::fmt;

use hyper::Uri;
use hyper_util::client::proxy::matcher::Matcher;

use super::error::SetupError;

/// Each variable, upper case first: the matcher takes the first one that is set.
const HTTPS: [&str; 2] = ["HTTPS_PROXY", "https_proxy"];
const HTTP: [&str; 2] = ["HTTP_PROXY", "http_proxy"];
const ALL: [&str; 2] = ["ALL_PROXY", "all_proxy"];
const NO: [&str; 2] = ["NO_PROXY", "no_proxy"];

/// The schemes a proxy URL may have (none is http).
const SCHEMES: [&str; 6] = ["http", "https", "socks4", "socks4a", "socks5", "socks5h"];

/// The proxy of the API's URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Proxy {
    /// Its URL without a user or password, such as `http://proxy.example:3128`.
    pub url: String,
    /// The variable it comes from.
    pub variable: &'static str,
}

impl fmt::Display for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (from {})", self.url, self.variable)
    }
}

/// The proxy requests to `api` go through, from the process's environment.
pub(crate) fn for_api(api: &Uri) -> Result<Option<Proxy>, SetupError> {
    for_api_in(api, |name| std::env::var(name).ok())
}

/// The proxy requests to `api` go through, with the variables `env` gives. A variable that
/// applies to `api`'s scheme and holds a URL the matcher cannot use is an error.
fn for_api_in(
    api: &Uri,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Option<Proxy>, SetupError> {
    // Where REQUEST_METHOD is set (CGI), HTTP_PROXY may come from a request's `Proxy`
    // header: the matcher ignores every proxy variable, and so does this.
    if env("REQUEST_METHOD").is_some() {
        return Ok(None);
    }
    let first = |names: [&'static str; 2]| {
        names
            .into_iter()
            .find_map(|name| env(name).map(|value| (name, value)))
    };
    let https = api.scheme_str() == Some("https");
    let own = first(if https { HTTPS } else { HTTP });
    let all = first(ALL);
    // An empty value is no proxy, as for curl.
    let set = |var: &Option<(&'static str, String)>| {
        var.as_ref()
            .filter(|(_, value)| !value.trim().is_empty())
            .map(|(name, value)| (*name, value.clone()))
    };
    let (own, all) = (set(&own), set(&all));
    for (name, value) in own.iter().chain(&all) {
        if !usable(value) {
            return Err(SetupError::InvalidProxy {
                variable: name,
                value: without_password(value),
                reason: why_unusable(value),
            });
        }
    }
    let mut builder = Matcher::builder().no(first(NO).map(|(_, v)| v).unwrap_or_default());
    if let Some((_, value)) = &all {
        builder = builder.all(value);
    }
    if let Some((_, value)) = &own {
        builder = if https {
            builder.https(value)
        } else {
            builder.http(value)
        };
    }
    let Some(intercept) = builder.build().intercept(api) else {
        return Ok(None);
    };
    let variable = own
        .or(all)
        .map_or("the system's settings", |(name, _)| name);
    Ok(Some(Proxy {
        url: intercept.uri().to_string().trim_end_matches('/').to_owned(),
        variable,
    }))
}

/// Whether the matcher takes `value` as a proxy URL (it drops one it cannot use).
fn usable(value: &str) -> bool {
    Matcher::builder()
        .all(value)
        .build()
        .intercept(&Uri::from_static("http://example.com/"))
        .is_some()
}

fn why_unusable(value: &str) -> String {
    match value.parse::<Uri>() {
        Err(e) => format!("not a URL ({e})"),
        Ok(uri) => match uri.scheme_str() {
            Some(scheme) if !SCHEMES.contains(&scheme) => format!(
                "`{scheme}://` is not a proxy scheme (http://, https://, socks5://, socks5h://, socks4://, socks4a://)"
            ),
            _ if uri.authority().is_none() => "no host".to_owned(),
            _ => "not a proxy URL".to_owned(),
        },
    }
}

/// `value` with the password (and a user without one, which may be a token) replaced by
/// `***`.
fn without_password(value: &str) -> String {
    let (scheme, rest) = match value.find("://") {
        Some(at) => value.split_at(at + 3),
        None => ("", value),
    };
    match rest.rfind('@') {
        Some(at) => {
            let hidden = match rest[..at].split_once(':') {
                Some((user, _)) => format!("{user}:***"),
                None => "***".to_owned(),
            };
            format!("{scheme}{hidden}@{}", &rest[at + 1..])
        }
        None => value.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn proxy_of(api: &str, vars: &[(&str, &str)]) -> Result<Option<Proxy>, SetupError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        for_api_in(&api.parse().unwrap(), |name| vars.get(name).cloned())
    }

    fn named(url: &str, variable: &'static str) -> Option<Proxy> {
        Some(Proxy {
            url: url.to_owned(),
            variable,
        })
    }

    #[test]
    fn the_variable_of_the_apis_scheme_comes_before_all_proxy() {
        let api = "https://app.chitchatlabs.com";
        assert_eq!(proxy_of(api, &[]).unwrap(), None);
        assert_eq!(
            proxy_of(
                api,
                &[
                    ("HTTPS_PROXY", "http://user:pw@proxy.example:3128/"),
                    ("ALL_PROXY", "http://other:8080"),
                    ("HTTP_PROXY", "http://plain:80"),
                ]
            )
            .unwrap(),
            named("http://proxy.example:3128", "HTTPS_PROXY")
        );
        assert_eq!(
            proxy_of(api, &[("https_proxy", "proxy.example:3128")]).unwrap(),
            named("http://proxy.example:3128", "https_proxy")
        );
        assert_eq!(
            proxy_of(
                api,
                &[
                    ("HTTP_PROXY", "http://plain:80"),
                    ("all_proxy", "socks5h://s:1080")
                ]
            )
            .unwrap(),
            named("socks5h://s:1080", "all_proxy")
        );
        assert_eq!(
            proxy_of(
                "http://127.0.0.1:8080",
                &[
                    ("HTTPS_PROXY", "http://tls:1"),
                    ("HTTP_PROXY", "http://plain:80")
                ]
            )
            .unwrap(),
            named("http://plain:80", "HTTP_PROXY")
        );
    }

    #[test]
    fn no_proxy_an_empty_value_and_cgi_mean_direct() {
        let api = "https://app.chitchatlabs.com";
        let proxy = ("HTTPS_PROXY", "http://proxy.example:3128");
        assert_eq!(
            proxy_of(api, &[proxy, ("NO_PROXY", "chitchatlabs.com")]).unwrap(),
            None
        );
        assert_eq!(proxy_of(api, &[proxy, ("no_proxy", "*")]).unwrap(), None);
        assert_eq!(proxy_of(api, &[("HTTPS_PROXY", "")]).unwrap(), None);
        assert_eq!(
            proxy_of(api, &[proxy, ("REQUEST_METHOD", "GET")]).unwrap(),
            None
        );
    }

    #[test]
    fn an_unusable_url_names_its_variable_and_hides_its_password() {
        let api = "https://app.chitchatlabs.com";
        for (name, value, reason) in [
            (
                "HTTPS_PROXY",
                "http://user:s3cret@bad host:3128",
                "not a URL",
            ),
            (
                "https_proxy",
                "ftp://proxy.example:21",
                "`ftp://` is not a proxy scheme",
            ),
            ("ALL_PROXY", "/just/a/path", "no host"),
        ] {
            let e = proxy_of(api, &[(name, value)]).unwrap_err();
            let text = e.to_string();
            assert!(text.starts_with(&format!("{name} `")), "{text}");
            assert!(text.contains(reason), "{text}");
            assert!(!text.contains("s3cret"), "{text}");
        }
        // HTTP_PROXY does not apply to an https API.
        assert_eq!(
            proxy_of(api, &[("HTTP_PROXY", "http://bad host")]).unwrap(),
            None
        );
    }

    #[test]
    fn passwords_and_tokens_are_hidden() {
        assert_eq!(
            without_password("http://user:pw@proxy:3128"),
            "http://user:***@proxy:3128"
        );
        assert_eq!(
            without_password("http://u:p@ss@proxy"),
            "http://u:***@proxy"
        );
        assert_eq!(without_password("token@proxy:1"), "***@proxy:1");
        assert_eq!(without_password("http://proxy:1"), "http://proxy:1");
    }
}
