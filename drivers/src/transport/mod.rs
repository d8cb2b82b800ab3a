//! Transports: byte pipes to an instrument, with timeouts.
//!
//! A [`Transport`] only moves bytes; framing (terminators, binary blocks) is
//! the SCPI session's job, so every session works on every transport.
//!
//! - [`tcp`]: raw SCPI sockets (`TCPIP0::host::5025::SOCKET`).
//! - [`serial`]: serial ports (`ASRL/dev/ttyUSB0::INSTR`).

pub mod serial;
pub mod tcp;

pub use serial::{SerialSettings, SerialTransport};
pub use tcp::TcpTransport;

use crate::error::DriverError;
use crate::resource::Resource;
use std::time::Duration;

/// A blocking, bidirectional byte link to one instrument.
pub trait Transport: Send + std::fmt::Debug {
    /// Writes all of `bytes`, failing with `Timeout` if the link does not
    /// accept them within the timeout.
    fn write_all(&mut self, bytes: &[u8]) -> Result<(), DriverError>;

    /// Reads at least one byte into `buf` and returns how many; waits at most
    /// the timeout (then `Timeout`). A closed link is an `Io` error, never
    /// `Ok(0)`.
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, DriverError>;

    /// The longest a read or write waits.
    fn timeout(&self) -> Duration;

    /// Changes the timeout.
    fn set_timeout(&mut self, timeout: Duration) -> Result<(), DriverError>;

    /// What the link is attached to, for messages (`TCP 10.0.0.5:5025`).
    fn describe(&self) -> String;
}

impl<T: Transport + ?Sized> Transport for Box<T> {
    fn write_all(&mut self, bytes: &[u8]) -> Result<(), DriverError> {
        (**self).write_all(bytes)
    }
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, DriverError> {
        (**self).read(buf)
    }
    fn timeout(&self) -> Duration {
        (**self).timeout()
    }
    fn set_timeout(&mut self, timeout: Duration) -> Result<(), DriverError> {
        (**self).set_timeout(timeout)
    }
    fn describe(&self) -> String {
        (**self).describe()
    }
}

/// Opens the transport `resource` names, with `timeout` for connecting and
/// for every read and write. Serial ports use [`SerialSettings::default`].
pub fn open(resource: &Resource, timeout: Duration) -> Result<Box<dyn Transport>, DriverError> {
    match resource {
        Resource::Serial { path } => {
            Ok(Box::new(SerialTransport::open(path, &SerialSettings::default(), timeout)?))
        }
        Resource::TcpSocket { host, port, .. } => {
            Ok(Box::new(TcpTransport::connect(host, *port, timeout)?))
        }
    }
}
