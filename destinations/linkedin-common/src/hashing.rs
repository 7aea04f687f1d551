//! The reference's `processHashing(value, 'sha256', 'hex', clean?)`.

use sha2::{Digest, Sha256};

/// The reference's `processHashing(value, 'sha256', 'hex', clean?)`: `""` for blank input; a
/// value that already is 64 hex characters is returned unchanged; otherwise `clean` is applied
/// and the lowercase hex SHA-256 of the UTF-8 text returned.
///
/// ```
/// use linkedin_common::process_hashing;
/// assert_eq!(
///     process_hashing("testing@testing.com", None),
///     "584c4423c421df49955759498a71495aba49b8780eb9387dff333b6f0982c777"
/// );
/// ```
pub fn process_hashing(value: &str, clean: Option<fn(&str) -> String>) -> String {
    if value.trim().is_empty() {
        return String::new();
    }
    if value.len() == 64 && value.bytes().all(|b| b.is_ascii_hexdigit()) {
        return value.to_string();
    }
    let cleaned;
    let input = match clean {
        Some(f) => {
            cleaned = f(value);
            cleaned.as_str()
        }
        None => value,
    };
    lower_hex(&Sha256::digest(input.as_bytes()))
}

/// Lower-case hex of `bytes`, written in one pass into one allocation (the `hex` crate's
/// `encode` collects `char` by `char`, which costs as much as the SHA-256 itself here).
fn lower_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = Vec::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)]);
        out.push(DIGITS[usize::from(b & 0x0f)]);
    }
    // Only ASCII digits were written.
    String::from_utf8(out).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashing_matches_the_reference() {
        assert_eq!(
            process_hashing("testing@testing.com", None),
            "584c4423c421df49955759498a71495aba49b8780eb9387dff333b6f0982c777"
        );
        assert_eq!(
            process_hashing(" Foo@Bar.com ", None),
            "343742730613e8de7840f39b3039979d89ca623c2dcb35b1c125f96c271c5ce7"
        );
        let lower: fn(&str) -> String = |s| s.to_lowercase();
        assert_eq!(
            process_hashing("Nick@Twilio.com", Some(lower)),
            "e290e11fef012fc831059c96e9186cda491dd0b259641815f23463cb4c54b7e1"
        );
        let hashed = "584C4423C421DF49955759498A71495ABA49B8780EB9387DFF333B6F0982C777";
        assert_eq!(process_hashing(hashed, Some(lower)), hashed);
        assert_eq!(process_hashing("   ", None), "");
    }

    #[test]
    fn lower_hex_matches_the_hex_crate() {
        let bytes: Vec<u8> = (0..=255).collect();
        assert_eq!(lower_hex(&bytes), hex::encode(&bytes));
        assert_eq!(lower_hex(&[]), "");
    }
}
