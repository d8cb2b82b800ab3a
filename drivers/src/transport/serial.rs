//! Serial ports (RS-232 and USB-serial adapters).

use super::Transport;
use crate::error::{DriverError, ErrorKind};
use serialport::SerialPort;
use std::io::{Read, Write};
use std::time::Duration;

/// Line settings of a serial port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SerialSettings {
    /// Bits per second.
    pub baud_rate: u32,
    /// RTS/CTS hardware flow control.
    pub hardware_flow_control: bool,
}

impl Default for SerialSettings {
    /// 9600 baud, 8N1, no flow control: the factory setting of most
    /// instruments.
    fn default() -> Self {
        Self { baud_rate: 9600, hardware_flow_control: false }
    }
}

/// An open serial port.
pub struct SerialTransport {
    port: Box<dyn SerialPort>,
    path: String,
    timeout: Duration,
}

impl std::fmt::Debug for SerialTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SerialTransport")
            .field("path", &self.path)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl SerialTransport {
    /// Opens the port at `path` (8 data bits, no parity, 1 stop bit).
    pub fn open(
        path: &str,
        settings: &SerialSettings,
        timeout: Duration,
    ) -> Result<Self, DriverError> {
        let flow = if settings.hardware_flow_control {
            serialport::FlowControl::Hardware
        } else {
            serialport::FlowControl::None
        };
        let port = serialport::new(path, settings.baud_rate)
            .data_bits(serialport::DataBits::Eight)
            .parity(serialport::Parity::None)
            .stop_bits(serialport::StopBits::One)
            .flow_control(flow)
            .timeout(timeout)
            .open()
            .map_err(|e| {
                DriverError::new(
                    ErrorKind::Io,
                    format!(
                        "serial {path}: cannot open ({e}); check the device path and that this \
                         user may open it (e.g. membership of the `dialout` group)"
                    ),
                )
            })?;
        Ok(Self { port, path: path.to_owned(), timeout })
    }

    /// Wraps an already open port (e.g. one end of a pseudo-terminal pair).
    pub fn from_port(
        port: Box<dyn SerialPort>,
        path: impl Into<String>,
        timeout: Duration,
    ) -> Result<Self, DriverError> {
        let mut this = Self { port, path: path.into(), timeout };
        this.set_timeout(timeout)?;
        Ok(this)
    }
}

fn serial_err(path: &str, e: &serialport::Error) -> DriverError {
    DriverError::new(ErrorKind::Io, format!("serial {path}: {e}; check the port and reconnect"))
}

impl Transport for SerialTransport {
    fn write_all(&mut self, bytes: &[u8]) -> Result<(), DriverError> {
        let what = format!("serial {}", self.path);
        self.port.write_all(bytes).map_err(|e| DriverError::io(&what, &e, self.timeout))?;
        self.port.flush().map_err(|e| DriverError::io(&what, &e, self.timeout))
    }

    fn read(&mut self, buf: &mut [u8]) -> Result<usize, DriverError> {
        match self.port.read(buf) {
            Ok(0) => Err(DriverError::new(
                ErrorKind::Io,
                format!("serial {}: the port was closed; reconnect", self.path),
            )),
            Ok(n) => Ok(n),
            Err(e) => Err(DriverError::io(&format!("serial {}", self.path), &e, self.timeout)),
        }
    }

    fn timeout(&self) -> Duration {
        self.timeout
    }

    fn set_timeout(&mut self, timeout: Duration) -> Result<(), DriverError> {
        if timeout.is_zero() {
            return Err(DriverError::new(ErrorKind::OutOfRange, "a timeout must be above zero"));
        }
        self.port.set_timeout(timeout).map_err(|e| serial_err(&self.path, &e))?;
        self.timeout = timeout;
        Ok(())
    }

    fn describe(&self) -> String {
        format!("serial {}", self.path)
    }
}
