//! VISA-style resource strings, parsed into a typed [`Resource`].
//!
//! Two interfaces are supported, the ones Eigen has transports for:
//!
//! - serial: `ASRL/dev/ttyUSB0::INSTR` (a device path) or `ASRL3::INSTR`
//!   (a port number, `/dev/ttyS3` on Linux);
//! - raw SCPI over TCP: `TCPIP0::10.0.0.5::5025::SOCKET` (board number
//!   optional, `TCPIP::host::port::SOCKET`).
//!
//! Interface and suffix keywords are case-insensitive, as in VISA.

use crate::error::{DriverError, ErrorKind};
use std::fmt;
use std::str::FromStr;

/// Where an instrument is attached.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Resource {
    /// A serial port.
    Serial {
        /// The device path, e.g. `/dev/ttyUSB0`.
        path: String,
    },
    /// A raw socket speaking SCPI (LAN instruments listen on port 5025).
    TcpSocket {
        /// The VISA board number (`TCPIP0` -> 0).
        board: u32,
        /// Host name or IP address.
        host: String,
        /// TCP port.
        port: u16,
    },
}

fn invalid(text: &str, why: &str) -> DriverError {
    DriverError::new(
        ErrorKind::InvalidResource,
        format!(
            "invalid resource string {text:?}: {why}; expected `ASRL/dev/ttyUSB0::INSTR` \
             or `TCPIP0::<host>::<port>::SOCKET`"
        ),
    )
}

/// Splits `TCPIP0` into (`TCPIP`, Some(0)); `TCPIP` gives (`TCPIP`, None).
fn split_board(head: &str) -> (&str, &str) {
    let digits = head.len() - head.trim_end_matches(|c: char| c.is_ascii_digit()).len();
    head.split_at(head.len() - digits)
}

impl FromStr for Resource {
    type Err = DriverError;

    fn from_str(text: &str) -> Result<Self, DriverError> {
        let parts: Vec<&str> = text.trim().split("::").collect();
        let head = parts[0];
        let upper = head.to_ascii_uppercase();
        if upper.starts_with("ASRL") {
            if parts.len() != 2 || !parts[1].eq_ignore_ascii_case("INSTR") {
                return Err(invalid(text, "a serial resource is `ASRL<port>::INSTR`"));
            }
            // Keep the path's case: only the `ASRL` keyword is case-insensitive.
            // `head` starts with 4 ASCII bytes (`upper` has the same bytes).
            let port = &head[4..];
            let path = if port.starts_with('/') {
                port.to_owned()
            } else if !port.is_empty() && port.chars().all(|c| c.is_ascii_digit()) {
                format!("/dev/ttyS{port}")
            } else {
                return Err(invalid(text, "the serial port must be a device path or a number"));
            };
            return Ok(Self::Serial { path });
        }
        let (interface, board) = split_board(head);
        if interface.eq_ignore_ascii_case("TCPIP") {
            let board = if board.is_empty() {
                0
            } else {
                board.parse().map_err(|_| invalid(text, "the board number is too large"))?
            };
            return match parts.as_slice() {
                [_, host, port, suffix] if suffix.eq_ignore_ascii_case("SOCKET") => {
                    if host.is_empty() {
                        return Err(invalid(text, "the host is empty"));
                    }
                    let port = port
                        .parse()
                        .map_err(|_| invalid(text, "the port must be a number in 1..=65535"))?;
                    if port == 0 {
                        return Err(invalid(text, "the port must be a number in 1..=65535"));
                    }
                    Ok(Self::TcpSocket { board, host: (*host).to_owned(), port })
                }
                [.., suffix] if suffix.eq_ignore_ascii_case("INSTR") => Err(invalid(
                    text,
                    "VXI-11/HiSLIP (`::INSTR`) is not supported; use the instrument's raw \
                     SCPI socket, e.g. `TCPIP0::<host>::5025::SOCKET`",
                )),
                _ => Err(invalid(text, "a TCP resource is `TCPIP<board>::<host>::<port>::SOCKET`")),
            };
        }
        Err(invalid(text, &format!("unsupported interface `{head}` (only ASRL and TCPIP)")))
    }
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Serial { path } => write!(f, "ASRL{path}::INSTR"),
            Self::TcpSocket { board, host, port } => {
                write!(f, "TCPIP{board}::{host}::{port}::SOCKET")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Resource, DriverError> {
        s.parse()
    }

    #[test]
    fn parses_serial_paths_and_numbers() {
        assert_eq!(
            parse("ASRL/dev/ttyUSB0::INSTR").unwrap(),
            Resource::Serial { path: "/dev/ttyUSB0".into() }
        );
        assert_eq!(parse("asrl3::instr").unwrap(), Resource::Serial { path: "/dev/ttyS3".into() });
    }

    #[test]
    fn parses_tcp_sockets() {
        assert_eq!(
            parse("TCPIP0::10.0.0.5::5025::SOCKET").unwrap(),
            Resource::TcpSocket { board: 0, host: "10.0.0.5".into(), port: 5025 }
        );
        assert_eq!(
            parse("tcpip2::lo1.lab::5025::socket").unwrap(),
            Resource::TcpSocket { board: 2, host: "lo1.lab".into(), port: 5025 }
        );
        assert_eq!(
            parse("TCPIP::localhost::1234::SOCKET").unwrap(),
            Resource::TcpSocket { board: 0, host: "localhost".into(), port: 1234 }
        );
    }

    #[test]
    fn display_round_trips() {
        for s in ["ASRL/dev/ttyUSB0::INSTR", "TCPIP0::10.0.0.5::5025::SOCKET"] {
            assert_eq!(parse(s).unwrap().to_string(), s);
        }
    }

    #[test]
    fn refuses_malformed_strings_with_the_fix() {
        for bad in [
            "",
            "GPIB0::22::INSTR",
            "ASRL::INSTR",
            "ASRLusb::INSTR",
            "ASRL/dev/ttyUSB0",
            "TCPIP0::10.0.0.5::SOCKET",
            "TCPIP0::10.0.0.5::http::SOCKET",
            "TCPIP0::10.0.0.5::0::SOCKET",
            "TCPIP0::10.0.0.5::70000::SOCKET",
            "TCPIP0::::5025::SOCKET",
        ] {
            let e = parse(bad).expect_err(bad);
            assert_eq!(e.kind(), ErrorKind::InvalidResource, "{bad}");
            assert!(e.message().contains("expected `ASRL"), "{bad}: {e}");
        }
        let e = parse("TCPIP0::10.0.0.5::INSTR").unwrap_err();
        assert!(e.message().contains("not supported"), "{e}");
    }
}
