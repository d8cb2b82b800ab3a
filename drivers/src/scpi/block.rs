//! IEEE 488.2 definite-length arbitrary blocks: `#<n><len><data>`, where
//! `<n>` is one digit 1..=9 giving the number of digits of `<len>`, the
//! number of data bytes.

use std::fmt;

/// Why a block header is malformed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockError(String);

impl fmt::Display for BlockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "malformed IEEE 488.2 block: {}", self.0)
    }
}

/// Appends `data` as a definite-length block.
pub fn encode(data: &[u8], out: &mut Vec<u8>) {
    let len = data.len().to_string();
    out.push(b'#');
    // A usize has at most 20 digits; the format allows 9, i.e. < 1 GB.
    out.extend_from_slice(len.len().to_string().as_bytes());
    out.extend_from_slice(len.as_bytes());
    out.extend_from_slice(data);
}

/// The largest block [`encode`] can express (9 length digits).
pub const MAX_LEN: usize = 999_999_999;

/// Parses a block header at the start of `bytes`: `Ok(Some((header_len,
/// data_len)))`, `Ok(None)` when more bytes are needed to tell.
pub fn parse_header(bytes: &[u8]) -> Result<Option<(usize, usize)>, BlockError> {
    let Some(&first) = bytes.first() else {
        return Ok(None);
    };
    if first != b'#' {
        return Err(BlockError(format!("expected `#`, got {:?}", char::from(first))));
    }
    let Some(&n) = bytes.get(1) else {
        return Ok(None);
    };
    let digits = match n {
        b'1'..=b'9' => usize::from(n - b'0'),
        b'0' => {
            return Err(BlockError(
                "indefinite-length blocks (`#0`) are not supported; the driver must ask for a \
                 definite-length format"
                    .into(),
            ));
        }
        other => {
            return Err(BlockError(format!(
                "length digit count {:?} is not 1-9",
                char::from(other)
            )));
        }
    };
    let Some(len_digits) = bytes.get(2..2 + digits) else {
        return Ok(None);
    };
    let mut len = 0usize;
    for &d in len_digits {
        if !d.is_ascii_digit() {
            return Err(BlockError(format!(
                "length {:?} is not a number",
                String::from_utf8_lossy(len_digits)
            )));
        }
        len = len * 10 + usize::from(d - b'0');
    }
    Ok(Some((2 + digits, len)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_and_parses_headers() {
        let mut out = Vec::new();
        encode(b"hello", &mut out);
        assert_eq!(out, b"#15hello");
        assert_eq!(parse_header(&out), Ok(Some((3, 5))));
        let big = vec![7u8; 1234];
        let mut out = Vec::new();
        encode(&big, &mut out);
        assert_eq!(&out[..6], b"#41234");
        assert_eq!(parse_header(&out), Ok(Some((6, 1234))));
        let mut empty = Vec::new();
        encode(&[], &mut empty);
        assert_eq!(empty, b"#10");
        assert_eq!(parse_header(&empty), Ok(Some((3, 0))));
    }

    #[test]
    fn partial_headers_ask_for_more() {
        assert_eq!(parse_header(b""), Ok(None));
        assert_eq!(parse_header(b"#"), Ok(None));
        assert_eq!(parse_header(b"#41"), Ok(None));
    }

    #[test]
    fn malformed_headers_are_errors() {
        assert!(parse_header(b"12").is_err());
        assert!(parse_header(b"#0abc").is_err());
        assert!(parse_header(b"#x").is_err());
        assert!(parse_header(b"#2a5").is_err());
    }
}
