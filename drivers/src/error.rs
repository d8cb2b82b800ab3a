//! [`DriverError`]: every failure of a transport, a SCPI session or a driver,
//! with a [`ErrorKind`] the caller acts on and a message that names the fix.

use eigen_hal::instrument::{InstrumentError, InstrumentErrorKind};
use std::time::Duration;

/// What a caller can do about a [`DriverError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A resource string is malformed or names an unsupported interface: fix
    /// the configuration.
    InvalidResource,
    /// No driver is registered for the model (or the instrument's identity
    /// matches none): fix the configuration or add a driver.
    UnknownModel,
    /// The link failed (refused connection, closed port, missing device
    /// file): check cabling and addresses, then reconnect.
    Io,
    /// The instrument did not answer within the session's timeout: retry,
    /// raise the timeout, or power-cycle it.
    Timeout,
    /// The instrument answered something that is not valid SCPI for the
    /// command: the driver and the firmware disagree.
    Protocol,
    /// The instrument reported an error in its error queue.
    Instrument,
    /// A value is outside what the model can do (frequency, power, channel).
    OutOfRange,
}

/// An error from a transport, a SCPI session or a driver.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct DriverError {
    kind: ErrorKind,
    message: String,
}

impl DriverError {
    /// An error of `kind`; the message says what failed and how to fix it.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self { kind, message: message.into() }
    }

    /// What the caller can do about it.
    #[must_use]
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The message.
    #[must_use]
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Wraps an I/O error on `what` (`TCP 10.0.0.5:5025`, `/dev/ttyUSB0`),
    /// telling a timeout from a broken link.
    pub(crate) fn io(what: &str, err: &std::io::Error, timeout: Duration) -> Self {
        use std::io::ErrorKind as Io;
        match err.kind() {
            Io::TimedOut | Io::WouldBlock => Self::new(
                ErrorKind::Timeout,
                format!(
                    "{what}: no answer within {timeout:?}; check that the instrument is on and \
                     the command expects a reply, or raise the session timeout"
                ),
            ),
            _ => Self::new(
                ErrorKind::Io,
                format!("{what}: {err}; check the cable or address and reconnect"),
            ),
        }
    }
}

impl From<DriverError> for InstrumentError {
    fn from(e: DriverError) -> Self {
        let kind = match e.kind {
            ErrorKind::Io => InstrumentErrorKind::Io,
            ErrorKind::Timeout => InstrumentErrorKind::Timeout,
            ErrorKind::Protocol => InstrumentErrorKind::Protocol,
            ErrorKind::Instrument => InstrumentErrorKind::Instrument,
            ErrorKind::OutOfRange => InstrumentErrorKind::OutOfRange,
            ErrorKind::InvalidResource | ErrorKind::UnknownModel => InstrumentErrorKind::Other,
        };
        InstrumentError::new(kind, e.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_errors_tell_timeouts_from_broken_links() {
        let t = Duration::from_millis(5);
        let timeout = std::io::Error::from(std::io::ErrorKind::TimedOut);
        let reset = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
        assert_eq!(DriverError::io("x", &timeout, t).kind(), ErrorKind::Timeout);
        assert_eq!(DriverError::io("x", &reset, t).kind(), ErrorKind::Io);
    }

    #[test]
    fn maps_onto_hal_kinds() {
        let e: InstrumentError = DriverError::new(ErrorKind::OutOfRange, "too high").into();
        assert_eq!(e.kind(), InstrumentErrorKind::OutOfRange);
        assert_eq!(e.to_string(), "too high");
    }
}
