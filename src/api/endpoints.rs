//! The API's base URL and its two endpoints; plain http:// only on loopback.

use std::net::IpAddr;

use hyper::Uri;
use reqwest::Url;

use super::env::{BASE_URL_ENV, DEFAULT_BASE_URL};
use super::error::SetupError;
use super::proxy::{self, Proxy};
use crate::campaign::Kind;

/// The API's base URL with its two endpoints, and the proxy they are reached through.
#[derive(Debug, Clone)]
pub(crate) struct Endpoints {
    single: Url,
    blast: Url,
    proxy: Option<Proxy>,
}

impl Endpoints {
    /// Reads `CHITCHAT_BASE_URL` (default: the production API) and the proxy variables.
    pub(crate) fn from_env() -> Result<Endpoints, SetupError> {
        let base = std::env::var(BASE_URL_ENV).unwrap_or_else(|_| DEFAULT_BASE_URL.to_owned());
        let mut endpoints = Endpoints::new(&base)?;
        let api: Uri =
            endpoints
                .single
                .as_str()
                .parse()
                .map_err(
                    |e: hyper::http::uri::InvalidUri| SetupError::InvalidBaseUrl {
                        url: base.clone(),
                        reason: e.to_string(),
                    },
                )?;
        endpoints.proxy = proxy::for_api(&api)?;
        Ok(endpoints)
    }

    pub(crate) fn new(base: &str) -> Result<Endpoints, SetupError> {
        let invalid = |reason: String| SetupError::InvalidBaseUrl {
            url: base.to_owned(),
            reason,
        };
        let url: Uri = base
            .parse()
            .map_err(|e: hyper::http::uri::InvalidUri| invalid(e.to_string()))?;
        match url.scheme_str() {
            Some("https") => {}
            Some("http") if is_loopback(&url) => {}
            Some("http") => return Err(SetupError::InsecureBaseUrl(base.to_owned())),
            Some(other) => return Err(invalid(format!("unsupported scheme `{other}`"))),
            None => return Err(invalid("no scheme: start it with https://".to_owned())),
        }
        if url.host().is_none_or(str::is_empty) {
            return Err(invalid("no host".to_owned()));
        }
        if url.query().is_some() {
            return Err(invalid("a base URL takes no query string".to_owned()));
        }
        let root = base.trim_end_matches('/');
        let join = |path: &str| {
            Url::parse(&format!("{root}/chat-service/apis/message/{path}"))
                .map_err(|e| invalid(e.to_string()))
        };
        Ok(Endpoints {
            single: join("single")?,
            blast: join("blast")?,
            proxy: None,
        })
    }

    /// The proxy requests go through, if any.
    pub(crate) fn proxy(&self) -> Option<&Proxy> {
        self.proxy.as_ref()
    }

    pub(crate) fn url(&self, kind: Kind) -> &Url {
        match kind {
            Kind::Single => &self.single,
            Kind::Blast => &self.blast,
        }
    }

    /// `host:port` of the API, for messages.
    pub(crate) fn origin(&self) -> String {
        let url = &self.single;
        format!(
            "{}:{}",
            url.host_str().unwrap_or_default(),
            url.port_or_known_default().unwrap_or_default()
        )
    }
}

fn is_loopback(url: &Uri) -> bool {
    let Some(host) = url.host() else {
        return false;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls() {
        let e = Endpoints::new("https://app.chitchatlabs.com/").unwrap();
        assert_eq!(
            e.url(Kind::Single).to_string(),
            "https://app.chitchatlabs.com/chat-service/apis/message/single"
        );
        assert_eq!(
            e.url(Kind::Blast).to_string(),
            "https://app.chitchatlabs.com/chat-service/apis/message/blast"
        );
        for ok in [
            "http://127.0.0.1:8080",
            "http://127.3.2.1",
            "http://[::1]:9",
            "http://localhost:1",
        ] {
            assert!(Endpoints::new(ok).is_ok(), "{ok}");
        }
        for refused in ["http://example.com", "http://10.0.0.1", "http://[::2]"] {
            assert!(
                matches!(Endpoints::new(refused), Err(SetupError::InsecureBaseUrl(_))),
                "{refused}"
            );
        }
        assert!(matches!(
            Endpoints::new("ftp://x"),
            Err(SetupError::InvalidBaseUrl { .. })
        ));
        assert!(matches!(
            Endpoints::new("not a url"),
            Err(SetupError::InvalidBaseUrl { .. })
        ));
    }
}
