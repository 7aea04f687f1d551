//! The transport rule: requests to partners go over https. Plain http is allowed only to a
//! loopback address (`localhost`, `127.0.0.0/8`, `::1`) that an explicit origin override
//! ([`super::OriginOverrides`]) put in place of the partner's origin — tests, simulators and
//! local runs. Anything else is refused before a connection is made, with an error that is not
//! retried.

use crate::error::Error;

/// The code of the error [`check`] returns.
pub const INSECURE_TRANSPORT: &str = "INSECURE_TRANSPORT";

/// Whether `host` is a loopback name or address.
fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Checks the URL a request is about to contact: `target` (what is contacted), `overridden`
/// (whether an origin override produced it from the partner's URL).
///
/// ```
/// use actions_core::request::transport::check;
/// assert!(check("https://api.linkedin.com/rest/me", false).is_ok());
/// assert!(check("http://127.0.0.1:9000/rest/me", true).is_ok());
/// assert!(check("http://api.linkedin.com/rest/me", false).is_err());
/// assert!(check("http://127.0.0.1:9000/rest/me", false).is_err()); // not through an override
/// assert!(check("http://10.0.0.5/rest/me", true).is_err()); // not loopback
/// ```
///
/// # Errors
/// Any scheme but https, except http to loopback through an override: a plain (not retried)
/// error with code [`INSECURE_TRANSPORT`] naming the scheme and host (never the path or query).
pub fn check(target: &str, overridden: bool) -> Result<(), Error> {
    // A URL that does not parse is left to the HTTP client, which reports it as before.
    let Ok(url) = url::Url::parse(target) else {
        return Ok(());
    };
    match url.scheme() {
        "https" => Ok(()),
        "http" if overridden && is_loopback(&url) => Ok(()),
        scheme => Err(Error::plain(format!(
            "refusing to send to {scheme}://{}: partner URLs must be https (plain http only to a \
             loopback address set through an origin override)",
            url.host_str().unwrap_or("")
        ))
        .with_code(INSECURE_TRANSPORT)),
    }
}
