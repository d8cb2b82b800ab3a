//! SCPI sessions: framing, timeouts, IEEE 488.2 binary blocks and the error
//! queue, on any [`Transport`].
//!
//! - [`command`]: the [`Command`] trait (a wire command as a typed value that
//!   encodes itself and parses its reply) and the IEEE 488.2 common commands.
//! - [`block`]: definite-length binary blocks `#<n><len><data>`.

pub mod block;
pub mod command;

pub use command::{Command, ErrorEntry, ReplyShape};

use crate::error::{DriverError, ErrorKind};
use crate::transport::Transport;
use std::time::Duration;

/// The most error-queue entries [`ScpiSession::drain_errors`] reads: a queue
/// that never reports `0,"No error"` is a broken instrument, not a reason to
/// loop forever.
const MAX_ERROR_ENTRIES: usize = 64;

/// A SCPI conversation with one instrument over a transport.
#[derive(Debug)]
pub struct ScpiSession<T: Transport> {
    transport: T,
    /// Bytes read past the last reply (the start of the next one).
    pending: Vec<u8>,
    /// Appended to every command.
    write_terminator: Vec<u8>,
    /// Ends every reply line.
    read_terminator: u8,
}

impl<T: Transport> ScpiSession<T> {
    /// A session with `\n` terminators both ways (the IEEE 488.2 default).
    pub fn new(transport: T) -> Self {
        Self {
            transport,
            pending: Vec::new(),
            write_terminator: b"\n".to_vec(),
            read_terminator: b'\n',
        }
    }

    /// Uses `write` after every command and `read` as the end of replies
    /// (some serial instruments want `\r\n` and answer with `\r`).
    #[must_use]
    pub fn with_terminators(mut self, write: &[u8], read: u8) -> Self {
        self.write_terminator = write.to_vec();
        self.read_terminator = read;
        self
    }

    /// The longest a reply may take.
    pub fn timeout(&self) -> Duration {
        self.transport.timeout()
    }

    /// Changes how long a reply may take.
    pub fn set_timeout(&mut self, timeout: Duration) -> Result<(), DriverError> {
        self.transport.set_timeout(timeout)
    }

    /// What the session is attached to.
    pub fn describe(&self) -> String {
        self.transport.describe()
    }

    /// Sends `command` and reads and parses its reply, if it has one. Errors
    /// name the command.
    pub fn send<C: Command>(&mut self, command: &C) -> Result<C::Reply, DriverError> {
        let mut line = Vec::new();
        command.encode(&mut line);
        let text = command_text(&line);
        let in_context = |e: DriverError| DriverError::new(e.kind(), format!("`{text}`: {e}"));
        self.write_raw(&line).map_err(in_context)?;
        let reply = match command.reply_shape() {
            ReplyShape::None => Vec::new(),
            ReplyShape::Line => self.read_line().map_err(in_context)?,
            ReplyShape::Block => self.read_block().map_err(in_context)?,
        };
        command
            .parse(&reply)
            .map_err(|e| DriverError::new(e.kind(), format!("{}: `{text}`: {e}", self.describe())))
    }

    /// Writes one command (terminator appended).
    pub fn write_raw(&mut self, command: &[u8]) -> Result<(), DriverError> {
        tracing::trace!(target: "eigen_drivers::scpi", command = %command_text(command), "write");
        let mut bytes = Vec::with_capacity(command.len() + self.write_terminator.len());
        bytes.extend_from_slice(command);
        bytes.extend_from_slice(&self.write_terminator);
        self.transport.write_all(&bytes)
    }

    /// Reads one reply line, without its terminator (and without a `\r`
    /// before a `\n`).
    pub fn read_line(&mut self) -> Result<Vec<u8>, DriverError> {
        let mut scanned = 0;
        loop {
            if let Some(i) = self.pending[scanned..].iter().position(|&b| b == self.read_terminator)
            {
                let end = scanned + i;
                let mut line: Vec<u8> = self.pending.drain(..=end).collect();
                line.pop();
                if self.read_terminator == b'\n' && line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Ok(line);
            }
            scanned = self.pending.len();
            self.fill()?;
        }
    }

    /// Reads an IEEE 488.2 definite-length block `#<n><len><data>` and the
    /// terminator after it; returns the data.
    pub fn read_block(&mut self) -> Result<Vec<u8>, DriverError> {
        // Skip whitespace some instruments send before the block.
        loop {
            while self.pending.first().is_some_and(u8::is_ascii_whitespace) {
                self.pending.remove(0);
            }
            if !self.pending.is_empty() {
                break;
            }
            self.fill()?;
        }
        let (header_len, data_len) = loop {
            match block::parse_header(&self.pending) {
                Ok(Some(h)) => break h,
                Ok(None) => self.fill()?,
                Err(e) => {
                    return Err(DriverError::new(
                        ErrorKind::Protocol,
                        format!("{}: {e}", self.describe()),
                    ));
                }
            }
        };
        let total = header_len + data_len;
        while self.pending.len() < total {
            self.fill()?;
        }
        let data = self.pending[header_len..total].to_vec();
        self.pending.drain(..total);
        // The terminator after the block ends the reply.
        let rest = self.read_line()?;
        if !rest.is_empty() {
            return Err(DriverError::new(
                ErrorKind::Protocol,
                format!(
                    "{}: {} unexpected byte(s) after a {data_len}-byte block",
                    self.describe(),
                    rest.len()
                ),
            ));
        }
        Ok(data)
    }

    /// Reads the instrument's error queue (`SYST:ERR?`) until it reports
    /// `0,"No error"`; returns the errors in the order they occurred.
    pub fn drain_errors(&mut self) -> Result<Vec<ErrorEntry>, DriverError> {
        let mut errors = Vec::new();
        for _ in 0..MAX_ERROR_ENTRIES {
            let entry = self.send(&command::SystErr)?;
            if entry.code == 0 {
                return Ok(errors);
            }
            errors.push(entry);
        }
        Err(DriverError::new(
            ErrorKind::Protocol,
            format!(
                "{}: the error queue still had entries after {MAX_ERROR_ENTRIES} reads \
                 (last: {:?}); send *CLS or power-cycle the instrument",
                self.describe(),
                errors.last()
            ),
        ))
    }

    /// `*RST`, `*CLS`, then `*OPC?`: the power-on state with an empty error
    /// queue, returning once the instrument has settled.
    pub fn reset(&mut self) -> Result<(), DriverError> {
        self.send(&command::RST)?;
        self.send(&command::CLS)?;
        self.send(&command::Opc)
    }

    /// The queued errors as text, oldest first (drains the queue).
    pub fn error_messages(&mut self) -> Result<Vec<String>, DriverError> {
        Ok(self.drain_errors()?.iter().map(ToString::to_string).collect())
    }

    /// Fails with an `Instrument` error listing every queued error, if any.
    pub fn check_errors(&mut self) -> Result<(), DriverError> {
        let errors = self.drain_errors()?;
        if errors.is_empty() {
            return Ok(());
        }
        let list: Vec<String> = errors.iter().map(ToString::to_string).collect();
        Err(DriverError::new(
            ErrorKind::Instrument,
            format!("{} reported: {}", self.describe(), list.join("; ")),
        ))
    }

    fn fill(&mut self) -> Result<(), DriverError> {
        let mut buf = [0u8; 4096];
        let n = self.transport.read(&mut buf)?;
        self.pending.extend_from_slice(&buf[..n]);
        Ok(())
    }
}

/// A command for messages: text up to the first binary block, at most 80
/// characters.
fn command_text(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == b'#').unwrap_or(bytes.len()).min(80);
    let text = String::from_utf8_lossy(&bytes[..end]).into_owned();
    if end < bytes.len() { format!("{text}...") } else { text }
}
